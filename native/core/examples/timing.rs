//! Direct timing harness: the Rust side of the binding-overhead comparison, and a quick way to
//! time one configuration under `perf stat`.
//!
//! `cargo run --release --example timing -- <single|batch|floor> <kernel> [threads] [reps] [n]`
//! prints one JSON line: median and all run times in ms, after checking the answer against scalar.

use std::time::Instant;

#[path = "../benches/support.rs"]
mod support;

use support::{fill_floor, random_walk, same};
use trendflex_core::{Kernel, trendflex_batch_into, trendflex_into};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let mode = arg(0, "single");
    let kernel: Kernel = arg(1, "auto").parse().unwrap();
    let threads: usize = arg(2, "1").parse().unwrap();
    let reps: usize = arg(3, "7").parse().unwrap();
    let n: usize = arg(4, "1000000").parse().unwrap();
    let x = random_walk(n, 42);
    let periods: Vec<usize> = (5..=231).collect();
    let rows = if mode == "single" { 1 } else { periods.len() };
    let mut out = vec![1.0f64; rows * n];
    let mut check = vec![0.0f64; rows * n];
    let run = |out: &mut [f64], k: Kernel| match mode.as_str() {
        "single" => trendflex_into(&x, 20, k, out).unwrap(),
        "batch" => trendflex_batch_into(&x, &periods, k, threads, out).unwrap(),
        "floor" => fill_floor(out, std::hint::black_box(0.5)),
        m => panic!("unknown mode {m}"),
    };
    if mode != "floor" {
        run(&mut check, Kernel::Scalar);
        run(&mut out, kernel);
        let ok = same(&out, &check);
        assert!(ok, "{kernel} output differs from scalar");
    }
    drop(check);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            run(&mut out, kernel);
            std::hint::black_box(&out);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let all = times.clone();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let kernel = trendflex_core::resolve(kernel).unwrap();
    println!(
        "{{\"mode\":\"{mode}\",\"kernel\":\"{kernel}\",\"threads\":{threads},\"n\":{n},\"rows\":{rows},\"median_ms\":{median:.4},\"ns_per_value\":{:.4},\"runs_ms\":{all:?}}}",
        median * 1e6 / (rows * n) as f64
    );
}
