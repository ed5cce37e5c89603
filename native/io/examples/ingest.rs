//! Times reading one input through the native source (no Node): `cargo run --release --example
//! ingest -- FILE [PRICE] [KEEP] [RUNS]` prints rows, seconds and MB/s for each run (5 unless
//! RUNS says).

use std::time::Instant;

use trendflex_io::readers::{GapMode, Input, Keep, Source, SourceOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = std::path::PathBuf::from(&args[0]);
    let options = SourceOptions {
        price: args.get(1).cloned().unwrap_or_else(|| "close".into()),
        keep: args
            .get(2)
            .map(|k| {
                vec![Keep {
                    name: k.clone(),
                    kind: None,
                }]
            })
            .unwrap_or_default(),
        delimiter: None,
        header: true,
        keep_as_text: false,
        gaps: GapMode::Error,
        follow: false,
    };
    let size = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    for _ in 0..runs {
        let t = Instant::now();
        let mut s = Source::open(&Input::Path(path.clone()), &options, 65536).unwrap();
        let mut buf = vec![0.0; 65536];
        let mut rows = 0;
        loop {
            let c = s.next(&mut buf).unwrap();
            if c.rows == 0 {
                break;
            }
            rows += c.rows;
        }
        let secs = t.elapsed().as_secs_f64();
        println!("{rows} rows, {secs:.3} s, {:.0} MB/s", size / secs);
    }
}
