//! Shows how the French scorer sees each line of standard input: token keys with their
//! valence, then the compound. `cargo run -p murmur-lexicon --example explain_french < FILE`

use std::io::BufRead;

use murmur_lexicon::{tuning, Language, SentimentAnalyzer};

fn main() -> std::io::Result<()> {
    let analyzer = SentimentAnalyzer::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let tokens: Vec<String> = tuning::explain(&line)
            .into_iter()
            .filter_map(|(key, valence)| valence.map(|valence| format!("{key}={valence:.1}")))
            .collect();
        println!("{:.3}\t{}\t{}", analyzer.score(&line, Language::Fr).compound, tokens.join(" "), line);
    }
    Ok(())
}
