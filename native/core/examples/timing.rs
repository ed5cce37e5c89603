//! Direct timing harness: the Rust side of the binding-overhead comparison, and a quick way to
//! time one configuration under `perf stat`.
//!
//! `cargo run --release --example timing -- <single|batch|floor> <kernel> [threads] [reps] [n]`
//! prints one JSON line: median and all run times in ms, after checking the answer against scalar.

use std::time::Instant;

use trendflex_core::{Kernel, trendflex_batch_into, trendflex_into};

fn random_walk(n: usize, mut seed: u64) -> Vec<f64> {
    let mut p = 100.0;
    (0..n)
        .map(|_| {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            p += ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
            p
        })
        .collect()
}

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
        "floor" => out.fill(std::hint::black_box(0.5)),
        m => panic!("unknown mode {m}"),
    };
    if mode != "floor" {
        run(&mut check, Kernel::Scalar);
        run(&mut out, kernel);
        let ok = out.iter().zip(&check).all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
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
