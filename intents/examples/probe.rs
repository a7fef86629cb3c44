//! Prints what the built-in models make of each line of standard input:
//! `echo "kaca kadar aciksiniz" | cargo run -p intents --example probe [niche]`.

use std::io::BufRead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let niche = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ecommerce".to_owned());
    let nlu = intents::Nlu::builtin()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let p = nlu.classify(&niche, &line);
        let alternatives: Vec<String> = p
            .alternatives
            .iter()
            .map(|(i, c)| format!("{i} {c:.2}"))
            .collect();
        println!(
            "{:<45} → {:<16} {:.2}   [{}]   fold: {:?}",
            line,
            p.intent,
            p.confidence,
            alternatives.join(", "),
            intents::normalize::fold(&line)
        );
    }
    Ok(())
}
