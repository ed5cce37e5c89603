//! The one error mapping of the binding: core errors become `RangeError`s with a stable `code`,
//! output errors become `Error`s with the OS code (`ENOSPC`, `EPIPE`, ...) and the user's name
//! for the output in the message.

use napi::bindgen_prelude::*;
use trendflex_core as core;

/// The `code` a core error carries to JavaScript.
fn core_code(e: &core::Error) -> &'static str {
    match e {
        core::Error::EmptyInput => "ERR_EMPTY_INPUT",
        core::Error::EmptyPeriods => "ERR_EMPTY_PERIODS",
        core::Error::PeriodTooSmall { .. } => "ERR_PERIOD",
        core::Error::NoValidPrices => "ERR_NO_VALID_PRICES",
        core::Error::NotEnoughData { .. } => "ERR_NOT_ENOUGH_DATA",
        core::Error::OutputLength { .. } => "ERR_OUTPUT_LENGTH",
        core::Error::UnknownKernel { .. } | core::Error::KernelEnv { .. } => "ERR_UNKNOWN_KERNEL",
        core::Error::UnknownFlavor { .. } => "ERR_UNKNOWN_FLAVOR",
        core::Error::KernelUnavailable { .. } => "ERR_KERNEL_UNAVAILABLE",
        core::Error::ThreadPool { .. } => "ERR_THREADS",
        core::Error::State(core::StateError::Mismatch { .. }) => "ERR_STATE_MISMATCH",
        core::Error::State(core::StateError::Foreign { .. }) => "ERR_STATE_FOREIGN",
        core::Error::State(_) => "ERR_STATE_CORRUPT",
        _ => "ERR_TRENDFLEX",
    }
}

/// A JS `RangeError` with `code`: every refusal of an argument is a value out of what is accepted.
pub fn range_error(env: &Env, code: &str, message: String) -> Error {
    let js = JsRangeError::from(Error::new(code, message)).into_unknown(*env);
    Error::from_unknown_without_coercion(js)
}

/// Takes an object's state for a call or a task on the thread pool (which hands it back when it
/// ends), or says the object is busy: `busy` is the sentence, with what to do about it.
pub fn take_state<T>(env: &Env, slot: &std::sync::Mutex<Option<T>>, busy: &str) -> Result<T> {
    slot.lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| range_error(env, "ERR_BUSY", busy.into()))
}

/// Runs `f` on an object's state where it is (a call that only reads it), or says the object is
/// busy, as [`take_state`] does.
pub fn with_state<T, R>(
    env: &Env,
    slot: &std::sync::Mutex<Option<T>>,
    busy: &str,
    f: impl FnOnce(&T) -> Result<R>,
) -> Result<R> {
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    f(guard
        .as_ref()
        .ok_or_else(|| range_error(env, "ERR_BUSY", busy.into()))?)
}

/// A JS `Error` with `code`.
pub fn coded_error(env: &Env, code: &str, message: String) -> Error {
    let js = JsError::from(Error::new(code, message)).into_unknown(*env);
    Error::from_unknown_without_coercion(js)
}

pub fn core_error(env: &Env, e: &core::Error) -> Error {
    range_error(env, core_code(e), e.to_string())
}

/// The code of an output error: the OS name where there is one, so that the CLI can tell a
/// closed pipe (`EPIPE`: the reader is done, not a failure) from a full disk.
fn output_code(e: &trendflex_io::Error) -> &'static str {
    if e.is_broken_pipe() {
        return "EPIPE";
    }
    match e.os_error() {
        Some(libc::ENOSPC) => "ENOSPC",
        Some(libc::EDQUOT) => "EDQUOT",
        Some(libc::EFBIG) => "EFBIG",
        Some(libc::EIO) => "EIO",
        Some(libc::EACCES) => "EACCES",
        Some(libc::EPERM) => "EPERM",
        Some(libc::EROFS) => "EROFS",
        Some(libc::EBADF) => "EBADF",
        Some(_) => "ERR_OUTPUT_IO",
        None => match e {
            trendflex_io::Error::Verify(_) => "ERR_OUTPUT_VERIFY",
            trendflex_io::Error::Schema(_) => "ERR_OUTPUT_SCHEMA",
            _ => "ERR_OUTPUT",
        },
    }
}

/// An error raised on a worker thread, kept until the task settles on the JS thread, where it
/// becomes a JS error with its code (no `Env` exists on a worker).
#[derive(Default)]
pub struct Failure(Option<Pending>);

enum Pending {
    Core(core::Error),
    Output { code: &'static str, message: String },
}

impl Failure {
    pub fn core(&mut self, e: core::Error) -> Error {
        let reason = e.to_string();
        self.0 = Some(Pending::Core(e));
        Error::from_reason(reason)
    }

    /// `name`: the output as the user named it (a path, or "stdout").
    pub fn output(&mut self, name: &str, e: trendflex_io::Error) -> Error {
        let message = if name.is_empty() {
            e.to_string()
        } else {
            format!("{name}: {e}")
        };
        self.0 = Some(Pending::Output {
            code: output_code(&e),
            message: message.clone(),
        });
        Error::from_reason(message)
    }

    /// `name`: the input as the user named it (a path, or "stdin").
    pub fn input(&mut self, name: &str, e: trendflex_io::Error) -> Error {
        let code = match &e {
            trendflex_io::Error::Input(_) => "ERR_INPUT",
            trendflex_io::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => "ENOENT",
            _ => output_code(&e),
        };
        let message = if name.is_empty() {
            e.to_string()
        } else {
            format!("{name}: {e}")
        };
        self.0 = Some(Pending::Output {
            code,
            message: message.clone(),
        });
        Error::from_reason(message)
    }

    /// An error with its own `code` (a state file's, say) and message.
    pub fn coded(&mut self, code: &'static str, message: String) -> Error {
        self.0 = Some(Pending::Output {
            code,
            message: message.clone(),
        });
        Error::from_reason(message)
    }

    pub fn reject(&mut self, env: &Env, err: Error) -> Error {
        match self.0.take() {
            Some(Pending::Core(e)) => core_error(env, &e),
            Some(Pending::Output { code, message }) => coded_error(env, code, message),
            None => err,
        }
    }
}

/// What the last panic said and where, as the hook installed at load records it: a panic's
/// payload carries only its message.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Installed when the addon loads: a panic is recorded for `catch_panics` instead of printed,
/// so that it reaches the user as one line through the error path, not as a backtrace.
#[napi_derive::module_init]
fn record_panics() {
    std::panic::set_hook(Box::new(|info| {
        let what = info.to_string().replace('\n', " ");
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
    }));
}

/// Runs a task's work on the thread pool. A panic there (a bug: bad input is an error value)
/// would unwind into libuv and abort Node, printing a backtrace and stranding the output's
/// temporary file; here it becomes an error like any other, naming where it happened.
pub fn catch_panics<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let recorded = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
        let what = recorded.unwrap_or_else(|| panic_to_error(payload).reason);
        Err(Error::new(
            Status::GenericFailure,
            format!(
                "{what} (a bug in trendflex: please report it with the command that caused it)"
            ),
        ))
    })
}

/// Test-only fault injection: with `TRENDFLEX_TEST_PANIC=<place>` in the environment, the task
/// at that place panics, so that the tests can check what a user would see of a bug there.
pub fn failpoint(place: &str) {
    static WANTED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var("TRENDFLEX_TEST_PANIC").ok());
    if wanted.as_deref() == Some(place) {
        panic!("failpoint '{place}' (TRENDFLEX_TEST_PANIC)");
    }
}
