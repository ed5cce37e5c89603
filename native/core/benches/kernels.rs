//! Kernel benchmarks on a 1,000,000-point seeded random walk: single (period 20) per kernel,
//! batch 5..=231 (227 rows) per kernel and flavour on 1 thread and all threads into a reused,
//! already-touched buffer, and the memory-write floor (filling that buffer with a non-zero
//! constant). Every kernel's output is checked against scalar before anything is timed.
//!
//! `cargo bench --bench kernels` (criterion; `-- single` or `-- batch` to pick a part). Batch ids
//! are `batch_5_231/<kernel>/<flavour>/<threads>t`, each flavour timed right after the other so
//! the two compare within one run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
#[path = "support.rs"]
mod support;

use support::{fill_floor, random_walk, same};
use trendflex_core::{
    Flavor, Kernel, available_kernels, trendflex_batch_into_with_flavor, trendflex_into,
};

const N: usize = 1_000_000;

fn threads_all() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn single(c: &mut Criterion) {
    let x = random_walk(N, 42);
    let mut want = vec![0.0; N];
    trendflex_into(&x, 20, Kernel::Scalar, &mut want).unwrap();
    let mut out = vec![1.0; N];
    let mut g = c.benchmark_group("single_p20");
    g.throughput(Throughput::Elements(N as u64));
    for k in available_kernels() {
        trendflex_into(&x, 20, k, &mut out).unwrap();
        assert!(same(&out, &want), "{k} differs from scalar: not timing it");
        g.bench_function(BenchmarkId::from_parameter(k), |b| {
            b.iter(|| trendflex_into(black_box(&x), 20, k, &mut out).unwrap())
        });
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let x = random_walk(N, 42);
    let periods: Vec<usize> = (5..=231).collect();
    let rows = periods.len();
    // One buffer for everything, touched before any timing so page faults are not measured.
    let mut out = vec![1.0f64; rows * N];
    let want: Vec<Vec<f64>> = Flavor::ALL
        .iter()
        .map(|&f| {
            let mut want = vec![0.0; rows * N];
            trendflex_batch_into_with_flavor(&x, &periods, Kernel::Scalar, f, 0, &mut want)
                .unwrap();
            want
        })
        .collect();
    let mut g = c.benchmark_group("batch_5_231");
    g.throughput(Throughput::Elements((rows * N) as u64));
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    g.bench_function("write_floor", |b| {
        b.iter(|| fill_floor(black_box(&mut out[..]), black_box(0.5)))
    });
    for k in available_kernels() {
        let mut thread_counts = vec![1, threads_all()];
        thread_counts.dedup();
        for t in thread_counts {
            for (&f, want) in Flavor::ALL.iter().zip(&want) {
                let run = |out: &mut [f64]| {
                    trendflex_batch_into_with_flavor(black_box(&x), &periods, k, f, t, out).unwrap()
                };
                run(&mut out);
                assert!(
                    same(&out, want),
                    "{k} {f} x{t} differs from scalar: not timing it"
                );
                g.bench_function(BenchmarkId::new(format!("{k}/{f}"), format!("{t}t")), |b| {
                    b.iter(|| run(&mut out))
                });
            }
        }
    }
    g.finish();
    drop(want);
}

criterion_group!(benches, single, batch);
criterion_main!(benches);
