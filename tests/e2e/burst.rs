//! A burst of 10,000 outbound WhatsApp messages: every one delivered once, none faster
//! than the phone number's configured rate (Meta counts inbound and outbound together).

use crate::channels::{UPSTREAM_TOKEN, WA_NUMBER, channel_env, post_signed, wa_body};
use crate::fakes::Fake;
use crate::harness::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CUSTOMERS: usize = 10_000;
const PER_BATCH: usize = 1_000;
/// Messages per second for the number (and the tenant).
const RATE: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_replies_go_out_at_the_configured_rate_none_dropped_none_twice() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ServerOptions::new(Stores::Embedded, dir.path());
    opts.env = channel_env(&fake);
    for key in ["PER_NUMBER_PER_SECOND", "PER_TENANT_PER_SECOND"] {
        opts.env
            .push((format!("KOPRU_LIMITS__{key}"), RATE.to_string()));
    }
    let server = Server::start(&opts).unwrap();

    // Ten webhook bodies of 1,000 messages from 10,000 customers, as Meta batches them.
    for batch in 0..CUSTOMERS / PER_BATCH {
        let ids: Vec<usize> = (batch * PER_BATCH..(batch + 1) * PER_BATCH).collect();
        let contacts: Vec<Value> = ids
            .iter()
            .map(|i| json!({"profile": {"name": format!("Müşteri {i}")}, "wa_id": format!("90544{i:07}")}))
            .collect();
        let messages: Vec<Value> = ids
            .iter()
            .map(|i| {
                json!({"from": format!("90544{i:07}"), "id": format!("wamid.BURST{i:05}"),
                "timestamp": jiff::Timestamp::now().as_second().to_string(), "type": "text",
                "text": {"body": "Merhaba"}})
            })
            .collect();
        let body = wa_body(WA_NUMBER, json!(contacts), json!(messages), None);
        assert_eq!(
            post_signed(&server, &body).await,
            200,
            "batch {batch} stored"
        );
    }

    let deadline = Instant::now() + Duration::from_secs(240);
    let mut got = fake.received();
    while got.len() < CUSTOMERS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        got = fake.received();
    }
    // Anything sent twice would still be arriving.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = fake.received();
    let mut to: Vec<&str> = got.iter().filter_map(|r| r.body["to"].as_str()).collect();
    to.sort_unstable();
    let total = to.len();
    to.dedup();
    assert_eq!(
        (total, to.len()),
        (CUSTOMERS, CUSTOMERS),
        "every customer answered, exactly once"
    );

    // The rate: a token bucket of RATE a second with a burst of RATE allows at most
    // 2 × RATE in any one-second window, and RATE a second on average after the burst.
    // (10 % slack for the fake's own clock reading; the inbound messages took tokens
    // too, so the true rate is lower still.)
    let mut at: Vec<Instant> = got.iter().map(|r| r.at).collect();
    at.sort_unstable();
    let mut busiest = 0;
    let mut j = 0;
    for i in 0..at.len() {
        while j < at.len() && at[j].duration_since(at[i]) < Duration::from_secs(1) {
            j += 1;
        }
        busiest = busiest.max(j - i);
    }
    assert!(
        busiest as f64 <= 2.0 * RATE as f64 * 1.1,
        "{busiest} sends in one second with a limit of {RATE}/s"
    );
    let span = at[at.len() - 1].duration_since(at[0]).as_secs_f64();
    let average = (at.len() - RATE) as f64 / span;
    assert!(
        average <= RATE as f64 * 1.1,
        "{average:.0} sends a second on average with a limit of {RATE}/s"
    );
}
