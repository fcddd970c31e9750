//! Weak-signal evaluation: runs the detector on a seeded synthetic stream (stable background terms plus
//! planted rising, spreading terms) and prints precision, recall, detection delay and background false
//! positives.
//!
//! `cargo run --release -p murmur-detect --bin signals-eval -- [--seed N] [--buckets N] [--planted N]
//! [--background N] [--filler N]`

mod shared;

use murmur_detect::signals::synthetic::{evaluate, SyntheticStreamConfig};
use murmur_detect::signals::SignalConfig;

use shared::report;

fn main() {
    let mut stream = SyntheticStreamConfig::default();
    let mut seeds: Vec<u64> = vec![42, 7, 2024];
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let mut index = 0;
    while index + 1 < arguments.len() {
        let value = arguments[index + 1].parse::<u64>();
        match (arguments[index].as_str(), value) {
            ("--seed", Ok(seed)) => seeds = vec![seed],
            ("--buckets", Ok(buckets)) => stream.buckets = buckets as u32,
            ("--planted", Ok(planted)) => stream.planted_terms = planted as u32,
            ("--background", Ok(background)) => stream.background_terms = background as u32,
            ("--filler", Ok(filler)) => stream.filler_posts_per_bucket = filler as u32,
            (flag, _) => {
                eprintln!("unknown or malformed argument: {flag}");
                std::process::exit(2);
            }
        }
        index += 2;
    }
    report!(
        "stream: {} buckets, {} channels, {} background terms (means {:?}/bucket), {} filler posts/bucket, \
         {} planted terms (rate {} x{}/bucket, +1 channel every {} buckets)",
        stream.buckets,
        stream.channels,
        stream.background_terms,
        stream.background_mean_range,
        stream.filler_posts_per_bucket,
        stream.planted_terms,
        stream.planted_initial_rate,
        stream.planted_growth,
        stream.planted_spread_every
    );
    for seed in seeds {
        let run = SyntheticStreamConfig { seed, ..stream.clone() };
        let started = std::time::Instant::now();
        let report = evaluate(&run, SignalConfig::default());
        let elapsed = started.elapsed();
        let delays = &report.detection_delays_buckets;
        let mean_delay = if delays.is_empty() {
            f64::NAN
        } else {
            delays.iter().map(|delay| f64::from(*delay)).sum::<f64>() / delays.len() as f64
        };
        report!(
            "seed {seed}: precision {:.3} recall {:.3} ({}/{} planted, {} weak-signal terms); delay onset→detection \
             mean {:.1} buckets, min {:?}, max {:?}, delays {:?}; posts of the term at detection {:?}; \
             background false positives {} {:?}; {} posts, {:.0} posts/s; tracked terms {}, state {:.1} MiB",
            report.precision,
            report.recall,
            report.planted_detected,
            report.planted_terms,
            report.weak_signal_terms,
            mean_delay,
            delays.first(),
            delays.last(),
            delays,
            report.counts_at_detection,
            report.background_false_positives.len(),
            report.background_false_positives,
            report.posts,
            report.posts as f64 / elapsed.as_secs_f64(),
            report.tracked_terms,
            report.memory_bytes as f64 / (1024.0 * 1024.0)
        );
        for detail in &report.background_false_positive_details {
            report!("  false positive: {detail}");
        }
    }
}
