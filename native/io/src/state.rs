//! The state file of `--state` and `--resume`: what a job's groups need to continue bit for bit,
//! and what the state belongs to, so that a run with other settings is refused by name.
//!
//! Layout (little-endian): `TFXJOBST`, version `u32`; the flavour, gaps mode and price column
//! (`u32` length + UTF-8 each); the periods (`u32` count, `u32` each); the rows consumed so far in
//! all (`u64`); the groups (`u32` count); the group keys as an Arrow IPC stream (`u32` length; a
//! schema of the group columns and one batch, a row per group in group order; empty when the job
//! is not grouped); the last row's `--keep` values per group, the same way (empty without keep
//! columns); each group's state (`u32` length + bytes, from the core); a CRC-32 of all before it.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Schema, SchemaRef};

use trendflex_core::framing::{self, FrameError, put_bytes, put_u32};

use crate::Error;

const MAGIC: &[u8; 8] = b"TFXJOBST";
const VERSION: u32 = 1;

/// What a state belongs to: a resumed run must have the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Belongs {
    pub flavor: String,
    pub gaps: String,
    pub column: String,
    pub periods: Vec<u32>,
    /// The group columns (names and types); empty when not grouped.
    pub keys: SchemaRef,
}

/// A job's saved state.
pub struct JobState {
    pub belongs: Belongs,
    /// Rows consumed, over every run so far.
    pub rows: u64,
    /// The group keys, one row per group in group order (`None` when not grouped).
    pub keys: Option<RecordBatch>,
    /// The last row's `--keep` values, one row per group in group order (`None`: no keep
    /// columns).
    pub last: Option<RecordBatch>,
    /// Each group's state, from `trendflex_core::GroupedStream::save_group`.
    pub groups: Vec<Vec<u8>>,
}

/// Why a state cannot be resumed.
#[derive(Debug)]
pub enum StateError {
    /// Not a trendflex state file, or of a version this build does not read.
    Foreign(String),
    /// A state file cut short or changed.
    Corrupt(String),
    /// A state of another job: the message names what differs.
    Mismatch(String),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Foreign(m) => write!(f, "not a trendflex state file: {m}"),
            StateError::Corrupt(m) => write!(f, "the state file is truncated or corrupt: {m}"),
            StateError::Mismatch(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for StateError {}

impl From<FrameError> for StateError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Foreign(m) => StateError::Foreign(m),
            FrameError::Corrupt(m) => StateError::Corrupt(m),
        }
    }
}

/// Whether `--state` may replace the existing file `path`: an empty file, or a state file (told
/// by its first bytes). Anything else is a user's file, named by mistake.
pub fn replaceable(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(MAGIC.len());
    std::fs::File::open(path)?
        .take(MAGIC.len() as u64)
        .read_to_end(&mut head)?;
    Ok(head.is_empty() || head == MAGIC)
}

impl Belongs {
    /// Checks that a state made for `self` may continue a run of `want`, naming the first
    /// difference with the flag that sets it.
    pub fn check(&self, want: &Belongs) -> Result<(), StateError> {
        let differ = |what: &str, state: String, run: String| {
            let what = if what.is_empty() {
                String::new()
            } else {
                format!("{what} ")
            };
            Err(StateError::Mismatch(format!(
                "the state was made with {what}{state}, and this run has {run}: resume with the \
                 same settings, or start a new state without --resume"
            )))
        };
        if self.flavor != want.flavor {
            return differ("--flavor", self.flavor.clone(), want.flavor.clone());
        }
        if self.periods != want.periods {
            return differ("periods", list(&self.periods), list(&want.periods));
        }
        if self.column != want.column {
            return differ("price column", self.column.clone(), want.column.clone());
        }
        if self.gaps != want.gaps {
            return differ("--gaps", self.gaps.clone(), want.gaps.clone());
        }
        let keys = |s: &Schema| {
            if s.fields().is_empty() {
                "no --group-by".to_string()
            } else {
                let names: Vec<String> = s
                    .fields()
                    .iter()
                    .map(|f| format!("{} ({})", f.name(), f.data_type()))
                    .collect();
                format!("--group-by {}", names.join(", "))
            }
        };
        if self.keys.fields() != want.keys.fields() {
            return differ("", keys(&self.keys), keys(&want.keys));
        }
        Ok(())
    }
}

fn list(periods: &[u32]) -> String {
    let n = periods.len();
    let contiguous = n > 2 && periods.windows(2).all(|w| w[1] == w[0] + 1);
    if contiguous {
        format!("{}:{}", periods[0], periods[n - 1])
    } else if n > 8 {
        format!(
            "{},{},...,{} ({n} periods)",
            periods[0],
            periods[1],
            periods[n - 1]
        )
    } else {
        periods
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl JobState {
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut b = framing::begin(MAGIC, VERSION);
        for s in [
            &self.belongs.flavor,
            &self.belongs.gaps,
            &self.belongs.column,
        ] {
            put_bytes(&mut b, s.as_bytes());
        }
        put_u32(&mut b, self.belongs.periods.len());
        for &p in &self.belongs.periods {
            b.extend_from_slice(&p.to_le_bytes());
        }
        b.extend_from_slice(&self.rows.to_le_bytes());
        put_u32(&mut b, self.groups.len());
        // Not grouped: no key stream at all (a grouped state with no groups yet has its schema).
        let keys = if self.belongs.keys.fields().is_empty() {
            Vec::new()
        } else {
            write_ipc(&self.belongs.keys, self.keys.as_ref())?
        };
        put_bytes(&mut b, &keys);
        let last = match &self.last {
            Some(last) => write_ipc(&last.schema(), Some(last))?,
            None => Vec::new(),
        };
        put_bytes(&mut b, &last);
        for g in &self.groups {
            put_bytes(&mut b, g);
        }
        Ok(framing::seal(b))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let corrupt = |m: String| StateError::Corrupt(m);
        let mut r = framing::open(bytes, MAGIC, VERSION)?;
        let mut text = || -> Result<String, StateError> {
            String::from_utf8(r.bytes()?.to_vec())
                .map_err(|_| corrupt("a name is not UTF-8".into()))
        };
        let (flavor, gaps, column) = (text()?, text()?, text()?);
        let n = r.count(4)?;
        let periods = (0..n).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
        let rows = r.u64()?;
        let groups_n = r.count(4)?;
        let ipc = r.bytes()?;
        let (keys_schema, keys) = if ipc.is_empty() {
            (Arc::new(Schema::empty()), None)
        } else {
            let (schema, mut batches) = read_ipc(ipc, "group keys")?;
            let batch = match batches.len() {
                0 => RecordBatch::new_empty(schema.clone()),
                1 => batches.pop().expect("one"),
                k => return Err(corrupt(format!("{k} batches of group keys"))),
            };
            if batch.num_rows() != groups_n {
                return Err(corrupt(format!(
                    "{} group keys for {groups_n} groups",
                    batch.num_rows()
                )));
            }
            (schema, Some(batch))
        };
        if keys.is_none() && groups_n > 1 {
            return Err(corrupt(format!("{groups_n} groups and no group keys")));
        }
        let ipc = r.bytes()?;
        let last = if ipc.is_empty() {
            None
        } else {
            let (_, mut batches) = read_ipc(ipc, "last rows")?;
            if batches.len() != 1 || batches[0].num_rows() != groups_n {
                return Err(corrupt(format!(
                    "its last rows do not match its {groups_n} groups"
                )));
            }
            batches.pop()
        };
        let groups = (0..groups_n)
            .map(|_| r.bytes().map(<[u8]>::to_vec))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(JobState {
            belongs: Belongs {
                flavor,
                gaps,
                column,
                periods,
                keys: keys_schema,
            },
            rows,
            keys,
            last,
            groups,
        })
    }
}

/// `batch` (if any) as an Arrow IPC stream of `schema`.
fn write_ipc(schema: &Schema, batch: Option<&RecordBatch>) -> Result<Vec<u8>, Error> {
    let mut ipc = Vec::new();
    let mut w = StreamWriter::try_new(&mut ipc, schema)?;
    if let Some(batch) = batch {
        w.write(batch)?;
    }
    w.finish()?;
    drop(w);
    Ok(ipc)
}

/// An Arrow IPC stream inside the state, decoded and its data checked in full. arrow-ipc trusts
/// the offsets in the messages and can panic on bytes no writer made (a changed file whose
/// checksum was made right again): that is a refusal like any other.
fn read_ipc(bytes: &[u8], what: &str) -> Result<(SchemaRef, Vec<RecordBatch>), StateError> {
    let decode = || -> Result<(SchemaRef, Vec<RecordBatch>), arrow_schema::ArrowError> {
        let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        for b in &batches {
            for c in b.columns() {
                c.to_data().validate_full()?;
            }
        }
        Ok((schema, batches))
    };
    std::panic::catch_unwind(decode)
        .map_err(|_| StateError::Corrupt(format!("its {what} cannot be decoded")))?
        .map_err(|e| StateError::Corrupt(format!("its {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, StringArray};
    use arrow_schema::{DataType, Field};

    use super::*;

    fn state() -> JobState {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "symbol",
            DataType::Utf8,
            true,
        )]));
        let keys: ArrayRef = Arc::new(StringArray::from(vec!["AAPL", "MSFT"]));
        JobState {
            belongs: Belongs {
                flavor: "vectorta".into(),
                gaps: "ffill".into(),
                column: "close".into(),
                periods: (5..=231).collect(),
                keys: schema.clone(),
            },
            rows: 12345,
            keys: Some(RecordBatch::try_new(schema, vec![keys]).unwrap()),
            last: Some(
                RecordBatch::try_new(
                    Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, true)])),
                    vec![Arc::new(arrow_array::Int64Array::from(vec![10, 20]))],
                )
                .unwrap(),
            ),
            groups: vec![vec![1, 2, 3], vec![4; 100]],
        }
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let s = state();
        let bytes = s.to_bytes().unwrap();
        let back = JobState::from_bytes(&bytes).unwrap();
        assert_eq!(back.belongs, s.belongs);
        assert_eq!((back.rows, &back.groups), (12345, &s.groups));
        assert_eq!(back.keys.unwrap(), s.keys.unwrap());
        assert_eq!(back.last.unwrap(), s.last.unwrap());
        for len in 0..bytes.len() {
            assert!(JobState::from_bytes(&bytes[..len]).is_err(), "cut at {len}");
        }
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x10;
            assert!(JobState::from_bytes(&b).is_err(), "byte {at} changed");
        }
        assert!(matches!(
            JobState::from_bytes(b"symbol,close\n"),
            Err(StateError::Foreign(_))
        ));
    }

    /// Changed bytes with the checksum made right again (a buggy or hostile writer): refused
    /// or read, never a panic, the Arrow IPC parts included.
    #[test]
    fn changed_bytes_with_a_valid_checksum_never_panic() {
        let good = state().to_bytes().unwrap();
        let mut seed = 77u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for _ in 0..20_000 {
            let mut b = good.clone();
            let body = b.len() - 4;
            for _ in 0..1 + next() % 3 {
                let at = next() as usize % body;
                b[at] = next() as u8;
            }
            b.truncate(body);
            let _ = JobState::from_bytes(&framing::seal(b));
        }
    }

    #[test]
    fn a_run_with_other_settings_is_named() {
        let s = state().belongs;
        let mut other = s.clone();
        other.periods = vec![10, 20];
        assert_eq!(
            s.check(&other).unwrap_err().to_string(),
            "the state was made with periods 5:231, and this run has 10,20: resume with the same \
             settings, or start a new state without --resume"
        );
        let mut other = s.clone();
        other.keys = Arc::new(Schema::empty());
        assert!(
            s.check(&other)
                .unwrap_err()
                .to_string()
                .contains("--group-by symbol (Utf8), and this run has no --group-by")
        );
        let mut other = s.clone();
        other.gaps = "error".into();
        assert!(
            s.check(&other)
                .unwrap_err()
                .to_string()
                .contains("--gaps ffill")
        );
        assert!(s.check(&s.clone()).is_ok());
    }
}
