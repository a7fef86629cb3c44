//! `kopru-loadgen`: drives a running `kopru serve` through web chat sockets at a fixed
//! open-loop rate and reports throughput and reply latency (frame in → reply frame out).
//! Traffic goes only to the address given (use loopback); every loop is bounded.

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(
    name = "kopru-loadgen",
    about = "Load a running kopru server through web chat"
)]
struct Args {
    /// The server, e.g. 127.0.0.1:8080 (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    #[arg(long, default_value = "demo-shop")]
    tenant: String,
    /// Messages per second, spread over all conversations.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Open conversations (sockets); each sends at most one message a second, as people do.
    #[arg(long)]
    conversations: Option<usize>,
}

/// Messages that each get exactly one reply from the general flow.
const TEXTS: [&str; 4] = [
    "kaça kadar açıksınız",
    "adresiniz neresi",
    "taksit var mı",
    "merhaba",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = args.addr.split(':').next().unwrap_or("");
    if !(host == "127.0.0.1" || host == "localhost" || host.starts_with("127.") || host == "[::1]")
    {
        anyhow::bail!("kopru-loadgen only sends to loopback addresses");
    }
    let conversations = args.conversations.unwrap_or(args.rate.max(1) as usize);
    let url = format!("ws://{}/webchat/{}/ws", args.addr, args.tenant);
    eprintln!("opening {conversations} conversations on {url}");

    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    let answered = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::with_capacity(conversations);
    let mut tasks = Vec::new();
    for _ in 0..conversations {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
        ws.send(Message::Text(
            json!({"type": "hello", "v": 1}).to_string().into(),
        ))
        .await?;
        let (tx, mut rx) = mpsc::channel::<String>(64);
        senders.push(tx);
        let latencies = latencies.clone();
        let answered = answered.clone();
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let mut in_flight: VecDeque<Instant> = VecDeque::new();
            let mut n = 0u64;
            let mut closing = false;
            loop {
                tokio::select! {
                    text = rx.recv(), if !closing => match text {
                        Some(text) => {
                            n += 1;
                            let frame = json!({"type": "message", "id": format!("lg{n}"), "text": text});
                            in_flight.push_back(Instant::now());
                            if sink.send(Message::Text(frame.to_string().into())).await.is_err() { break; }
                        }
                        None => {
                            closing = true;
                            if in_flight.is_empty() { break; }
                        }
                    },
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(t))) => {
                            let v: Value = serde_json::from_str(&t).unwrap_or_default();
                            if v["type"] == "message" && v["from"] == "bot" {
                                if let Some(sent) = in_flight.pop_front() {
                                    latencies.lock().await.push(sent.elapsed().as_micros() as u64);
                                    answered.fetch_add(1, Ordering::Relaxed);
                                }
                            } else if v["type"] == "error" {
                                eprintln!("error frame: {v}");
                            }
                            if closing && in_flight.is_empty() { break; }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                    _ = tokio::time::sleep(Duration::from_secs(10)), if closing => break,
                }
            }
        }));
    }

    eprintln!("sending {} msg/s for {} s", args.rate, args.seconds);
    let total = args.rate as u64 * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let started = Instant::now();
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let conv = (i as usize) % conversations;
        let text = TEXTS[(i as usize / conversations) % TEXTS.len()];
        let _ = senders[conv].send(text.to_string()).await;
    }
    let send_time = started.elapsed();
    drop(senders);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    let mut lat = latencies.lock().await.clone();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let idx = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat[idx] as f64 / 1000.0
    };
    let got = answered.load(Ordering::Relaxed);
    println!(
        "{}",
        json!({
            "sent": total,
            "answered": got,
            "unanswered": total - got,
            "offered_rate": args.rate,
            "send_seconds": (send_time.as_secs_f64() * 100.0).round() / 100.0,
            "achieved_rate": (got as f64 / elapsed.as_secs_f64()).round(),
            "latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": pct(1.0)},
        })
    );
    Ok(())
}
