//! `kopru-loadgen`: drives a running `kopru serve` at a fixed open-loop rate and reports
//! throughput and latency. `--mode webchat`: web chat sockets, frame in → reply frame out.
//! `--mode whatsapp`: signed Cloud API webhooks, POST → 200 (stored), and the full path
//! to the reply accepted by a fake Graph API this tool serves on `--graph-port` (start
//! the server with `KOPRU_UPSTREAMS__GRAPH_API=http://127.0.0.1:PORT/v21.0`).
//! Traffic goes only to loopback addresses; every loop is bounded.

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
    /// webchat | whatsapp
    #[arg(long, default_value = "webchat")]
    mode: String,
    /// whatsapp mode: the Meta app secret the server verifies signatures with.
    #[arg(long, default_value = "bench-app-secret")]
    app_secret: String,
    /// whatsapp mode: the phone number id the webhooks are addressed to; several,
    /// comma-separated, take turns (Meta's throughput limit is per number and counts
    /// inbound and outbound messages together, so one number carries at most half its
    /// tier as full conversations).
    #[arg(long, default_value = "100000000000001")]
    phone_number_id: String,
    /// whatsapp mode: where this tool serves a fake Graph API (0: do not, ack only).
    #[arg(long, default_value_t = 18181)]
    graph_port: u16,
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
    match args.mode.as_str() {
        "webchat" => webchat(args).await,
        "whatsapp" => whatsapp(args).await,
        other => anyhow::bail!("unknown mode {other:?} (webchat or whatsapp)"),
    }
}

fn percentiles(mut lat: Vec<u64>) -> Value {
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let idx = ((lat.len() as f64 - 1.0) * p).round() as usize;
        (lat[idx] as f64 / 10.0).round() / 100.0
    };
    json!({"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": pct(1.0)})
}

type Sent = Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

async fn fake_graph(
    axum::extract::State((sent, latencies)): axum::extract::State<(
        Sent,
        Arc<std::sync::Mutex<Vec<u64>>>,
    )>,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let to = v["to"].as_str().unwrap_or_default().to_string();
    if let Some(at) = sent.lock().unwrap().remove(&to) {
        latencies
            .lock()
            .unwrap()
            .push(at.elapsed().as_micros() as u64);
    }
    axum::Json(
        json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.BENCH{}", uuid::Uuid::new_v4().simple())}]}),
    )
}

async fn whatsapp(args: Args) -> anyhow::Result<()> {
    use hmac::Mac;
    let sent: Sent = Arc::default();
    let replies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    if args.graph_port != 0 {
        let app = axum::Router::new()
            .route("/v21.0/{id}/messages", axum::routing::post(fake_graph))
            .with_state((sent.clone(), replies.clone()));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.graph_port)).await?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let url = format!("http://{}/webhooks/meta", args.addr);
    let acks = Arc::new(Mutex::new(Vec::<u64>::new()));
    let failed = Arc::new(AtomicU64::new(0));
    let total = args.rate as u64 * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    eprintln!(
        "posting {} signed webhooks/s for {} s to {url}",
        args.rate, args.seconds
    );
    let started = Instant::now();
    let run = format!("{:04}", uuid::Uuid::new_v4().as_u128() % 10_000);
    let numbers: Vec<&str> = args.phone_number_id.split(',').map(str::trim).collect();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until((started + interval * i as u32).into()).await;
        // A customer per message: the per-recipient limit is not what is measured.
        let from = format!("9059{run}{i:05}");
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "905320000000", "phone_number_id": numbers[i as usize % numbers.len()]},
            "contacts": [{"profile": {"name": "Yük Testi"}, "wa_id": from}],
            "messages": [{"from": from, "id": format!("wamid.LOAD{run}{i}"), "timestamp": jiff::Timestamp::now().as_second().to_string(),
                "type": "text", "text": {"body": TEXTS[i as usize % TEXTS.len()]}}]}}]}]});
        let raw = serde_json::to_vec(&body)?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(args.app_secret.as_bytes())?;
        mac.update(&raw);
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let (http, url, acks, failed, sent) = (
            http.clone(),
            url.clone(),
            acks.clone(),
            failed.clone(),
            sent.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            sent.lock().unwrap().insert(from, t0);
            let ok = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", sig)
                .body(raw)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                acks.lock().await.push(t0.elapsed().as_micros() as u64);
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let ack_elapsed = started.elapsed();
    let acked = acks.lock().await.len();
    if args.graph_port != 0 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while replies.lock().unwrap().len() < acked && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let elapsed = started.elapsed();
    let replies = replies.lock().unwrap().clone();
    println!(
        "{}",
        json!({
            "mode": "whatsapp",
            "offered_rate": args.rate,
            "sent": total,
            "acked": acked,
            "failed": failed.load(Ordering::Relaxed),
            "ack_rate": (acked as f64 / ack_elapsed.as_secs_f64()).round(),
            "ack_latency_ms": percentiles(acks.lock().await.clone()),
            "replies": replies.len(),
            "reply_rate": (replies.len() as f64 / elapsed.as_secs_f64()).round(),
            "full_path_latency_ms": percentiles(replies),
        })
    );
    Ok(())
}

async fn webchat(args: Args) -> anyhow::Result<()> {
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
