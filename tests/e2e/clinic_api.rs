//! The clinic admin API against the real server: leads (auth, filters, CSV, stage,
//! assignment, notes, first human response), agent bookings (validation, one winner
//! under concurrency, statuses), practitioners' iCal feeds, replacing the price list,
//! and the CRM webhook (signed, retried after failures, each event delivered once).

use crate::fakes::meta_signature;
use crate::harness::*;
use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLINIC_KEY: &str = "test-key-klinik";
const SHOP_KEY: &str = "test-key-butik";
const CRM_SECRET: &str = "crm-secret-for-tests";

// ------------------------------------------------------------------ fake CRM

/// One request the fake CRM received.
#[derive(Clone, Debug)]
struct CrmRequest {
    delivery: String,
    event: String,
    signature_ok: bool,
    /// What the fake answered.
    status: u16,
    body: Value,
}

#[derive(Default)]
struct CrmInner {
    requests: Vec<CrmRequest>,
    /// The next this many requests get a 500.
    fail_next: u32,
}

/// A CRM receiver: verifies `X-Kopru-Signature`, records every request, and fails the
/// first N when told to.
#[derive(Clone)]
struct FakeCrm {
    url: String,
    inner: Arc<Mutex<CrmInner>>,
}

impl FakeCrm {
    async fn start(fail_first: u32) -> FakeCrm {
        let inner = Arc::new(Mutex::new(CrmInner {
            fail_next: fail_first,
            ..CrmInner::default()
        }));
        let app = axum::Router::new()
            .route("/hooks/kopru", axum::routing::post(crm_receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake CRM");
        let addr = listener.local_addr().expect("fake CRM addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCrm {
            url: format!("http://{addr}/hooks/kopru"),
            inner,
        }
    }

    fn requests(&self) -> Vec<CrmRequest> {
        self.inner.lock().unwrap().requests.clone()
    }
}

async fn crm_receive(
    State(inner): State<Arc<Mutex<CrmInner>>>,
    headers: HeaderMap,
    raw: Bytes,
) -> axum::response::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let signature_ok = header("x-kopru-signature") == meta_signature(CRM_SECRET, &raw)
        && header("content-type") == "application/json";
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let mut inner = inner.lock().unwrap();
    let status = if !signature_ok {
        401
    } else if inner.fail_next > 0 {
        inner.fail_next -= 1;
        500
    } else {
        200
    };
    inner.requests.push(CrmRequest {
        delivery: header("x-kopru-delivery"),
        event: header("x-kopru-event"),
        signature_ok,
        status,
        body,
    });
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({"ok": status == 200})),
    )
        .into_response()
}

// ------------------------------------------------------------------ server and calls

/// A dental tenant with the bundled clinic, consultants and (optionally) a CRM webhook,
/// and a shop tenant whose key must not open the clinic's records.
fn write_config(dir: &Path, crm_url: Option<&str>) -> Result<std::path::PathBuf> {
    let crm = crm_url
        .map(|u| format!(", crm_webhook_url = \"{u}\", crm_secret_env = \"KLINIK_CRM_SECRET\""))
        .unwrap_or_default();
    let hours = r#"{ mon = "09:00-19:00", tue = "09:00-19:00", wed = "09:00-19:00", thu = "09:00-19:00", fri = "09:00-19:00", sat = "10:00-15:00", sun = "closed" }"#;
    let text = format!(
        r#"
[[tenants]]
id = "klinik"
niche = "dental"
name = "Test Diş Kliniği"
timezone = "Europe/Istanbul"
api_key_env = "KLINIK_API_KEY"
address = "Test Cad. No: 1, Şişli / İstanbul"
hours = {hours}
webchat = {{ allowed_origins = ["http://localhost"] }}
clinic_dir = "builtin:dental"
leads = {{ consultants = [{{ id = "selin", languages = ["tr"] }}, {{ id = "deniz", languages = ["tr", "en"] }}]{crm} }}

[[tenants]]
id = "butik"
niche = "ecommerce"
name = "Test Butik"
timezone = "Europe/Istanbul"
api_key_env = "BUTIK_API_KEY"
address = "Moda Cad. No: 2, Kadıköy / İstanbul"
hours = {hours}
webchat = {{ allowed_origins = ["http://localhost"] }}
"#
    );
    let path = dir.join("kopru.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn start_server(dir: &Path, stores: Stores, crm_url: Option<&str>) -> Result<Server> {
    let mut opts = ServerOptions::new(stores, &dir.join("data"));
    opts.config = Some(write_config(dir, crm_url)?);
    opts.env = vec![
        ("KLINIK_API_KEY".into(), CLINIC_KEY.into()),
        ("BUTIK_API_KEY".into(), SHOP_KEY.into()),
        ("KLINIK_CRM_SECRET".into(), CRM_SECRET.into()),
    ];
    Server::start(&opts)
}

/// One admin API call; returns (status, content type, body text).
async fn raw_call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<reqwest::Body>,
) -> Result<(u16, String, String)> {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.base));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok((status, ctype, resp.text().await?))
}

async fn get(server: &Server, path: &str, key: Option<&str>) -> Result<(u16, Value)> {
    let (status, _, text) = raw_call(server, reqwest::Method::GET, path, key, None).await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn post(server: &Server, path: &str, key: Option<&str>, body: Value) -> Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until `check` returns `Some`, polling every 100 ms.
async fn eventually<T, F, Fut>(what: &str, wait: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + wait;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A customer writes to the clinic's web chat; returns the chat and their lead (leads
/// of clinic tenants are made by the conversation's first message).
async fn lead_from_chat(server: &Server) -> Result<(Chat, Value)> {
    let mut chat = Chat::connect(&server.ws_url("klinik"), None, 0).await?;
    chat.ask("Merhaba").await?;
    let handle = format!("webchat:{}", chat.session);
    let lead = eventually("the chat's lead", Duration::from_secs(15), || async {
        let (status, body) = get(server, "/api/v1/leads", Some(CLINIC_KEY)).await?;
        anyhow::ensure!(status == 200, "leads: {status} {body}");
        Ok(body["leads"].as_array().and_then(|a| {
            a.iter()
                .find(|l| {
                    l["handles"]
                        .as_array()
                        .is_some_and(|h| h.iter().any(|x| x == handle.as_str()))
                })
                .cloned()
        }))
    })
    .await?;
    Ok((chat, lead))
}

// ------------------------------------------------------------------ leads + CRM

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_api_and_the_crm_webhook() -> Result<()> {
    let crm = FakeCrm::start(2).await;
    let dir = tempfile::tempdir()?;
    let server = start_server(dir.path(), Stores::Embedded, Some(&crm.url))?;
    let (chat, lead) = lead_from_chat(&server).await?;
    let id = lead["id"].as_i64().context("lead id")?;
    let path = format!("/api/v1/leads/{id}");

    // Auth: no key 401, an unknown key 401, another tenant's key 404.
    assert_eq!(get(&server, "/api/v1/leads", None).await?.0, 401);
    assert_eq!(get(&server, "/api/v1/leads", Some("nope")).await?.0, 401);
    assert_eq!(get(&server, &path, Some(SHOP_KEY)).await?.0, 404);
    assert_eq!(
        post(
            &server,
            &format!("{path}/notes"),
            Some(SHOP_KEY),
            json!({"text": "x"})
        )
        .await?
        .0,
        404
    );
    let (status, shop_leads) = get(&server, "/api/v1/leads", Some(SHOP_KEY)).await?;
    assert_eq!(status, 200);
    assert_eq!(
        shop_leads["leads"],
        json!([]),
        "the shop sees none of the clinic's leads"
    );
    let (status, detail) = get(&server, &path, Some(CLINIC_KEY)).await?;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["lead"]["id"], id);
    assert!(detail["timeline"].as_array().is_some_and(|t| !t.is_empty()));

    // Filters, and clear 400s for values that make no sense.
    let ids = |v: &Value| -> Vec<i64> {
        v["leads"]
            .as_array()
            .map(|a| a.iter().filter_map(|l| l["id"].as_i64()).collect())
            .unwrap_or_default()
    };
    let stage = lead["stage"].as_str().unwrap_or("new").to_string();
    let (_, v) = get(
        &server,
        &format!("/api/v1/leads?stage={stage}&stage_unused="),
        Some(CLINIC_KEY),
    )
    .await?;
    assert!(
        v["error"]["message"].as_str().is_some(),
        "unknown query keys are refused: {v}"
    );
    let (status, v) = get(
        &server,
        &format!("/api/v1/leads?stage={stage}&from=2000-01-01&source="),
        Some(CLINIC_KEY),
    )
    .await?;
    assert_eq!((status, ids(&v).contains(&id)), (200, true), "{v}");
    let (_, v) = get(&server, "/api/v1/leads?stage=won", Some(CLINIC_KEY)).await?;
    assert!(!ids(&v).contains(&id));
    let (_, v) = get(
        &server,
        "/api/v1/leads?to=2000-01-01T00:00:00Z",
        Some(CLINIC_KEY),
    )
    .await?;
    assert!(ids(&v).is_empty());
    let (_, v) = get(&server, "/api/v1/leads?min_score=101", Some(CLINIC_KEY)).await?;
    assert!(ids(&v).is_empty());
    for (query, needle) in [
        ("stage=bogus", "appointment_booked"),
        ("min_score=abc", "min_score"),
        ("from=yesterday", "RFC 3339"),
        ("from=2026-03-02&to=2026-03-01", "before"),
        ("limit=0", "limit"),
    ] {
        let (status, v) = get(&server, &format!("/api/v1/leads?{query}"), Some(CLINIC_KEY)).await?;
        assert_eq!(status, 400, "{query}: {v}");
        assert!(message(&v).contains(needle), "{query}: {v}");
    }

    // Stage: validated, backwards allowed, lost needs a reason.
    let stage_url = format!("{path}/stage");
    let (status, v) = post(
        &server,
        &stage_url,
        Some(CLINIC_KEY),
        json!({"stage": "bogus"}),
    )
    .await?;
    assert_eq!(status, 400);
    assert!(message(&v).contains("quoted"), "names the stages: {v}");
    let (status, v) = post(
        &server,
        &stage_url,
        Some(CLINIC_KEY),
        json!({"stage": "lost"}),
    )
    .await?;
    assert_eq!(status, 400);
    assert!(message(&v).contains("lost_reason"), "{v}");
    let (status, v) = post(
        &server,
        &stage_url,
        Some(CLINIC_KEY),
        json!({"stage": "quoted", "agent": "Selin"}),
    )
    .await?;
    assert_eq!(
        (status, v["lead"]["stage"].as_str()),
        (200, Some("quoted")),
        "{v}"
    );
    let (status, v) = post(
        &server,
        &stage_url,
        Some(CLINIC_KEY),
        json!({"stage": "new"}),
    )
    .await?;
    assert_eq!(
        (status, v["lead"]["stage"].as_str()),
        (200, Some("new")),
        "an agent may move back: {v}"
    );
    let reason = "=HYPERLINK(\"http://x\",\"tıkla\"), \"pahalı\"";
    let (status, v) = post(
        &server,
        &stage_url,
        Some(CLINIC_KEY),
        json!({"stage": "lost", "lost_reason": reason}),
    )
    .await?;
    assert_eq!(
        (status, v["lead"]["lost_reason"].as_str()),
        (200, Some(reason)),
        "{v}"
    );

    // Assignment: configured consultants only.
    let assign_url = format!("{path}/assign");
    let (status, v) = post(
        &server,
        &assign_url,
        Some(CLINIC_KEY),
        json!({"assignee": "mehmet"}),
    )
    .await?;
    assert_eq!(status, 400);
    assert!(
        message(&v).contains("selin") && message(&v).contains("deniz"),
        "{v}"
    );
    assert_eq!(
        post(&server, &assign_url, Some(CLINIC_KEY), json!({}))
            .await?
            .0,
        400
    );
    let (status, v) = post(
        &server,
        &assign_url,
        Some(CLINIC_KEY),
        json!({"assignee": "deniz"}),
    )
    .await?;
    assert_eq!(
        (status, v["lead"]["assignee"].as_str()),
        (200, Some("deniz")),
        "{v}"
    );

    // Notes.
    let notes_url = format!("{path}/notes");
    assert_eq!(
        post(&server, &notes_url, Some(CLINIC_KEY), json!({"text": "  "}))
            .await?
            .0,
        400
    );
    assert_eq!(
        post(
            &server,
            &notes_url,
            Some(CLINIC_KEY),
            json!({"text": "ş".repeat(4001)})
        )
        .await?
        .0,
        400
    );
    let (status, v) = post(
        &server,
        &notes_url,
        Some(CLINIC_KEY),
        json!({"text": "Hasta cumartesi aranacak", "author": "Selin"}),
    )
    .await?;
    assert_eq!(status, 201, "{v}");

    // An agent answers in the chat: the first human response is recorded.
    let (_, convs) = get(&server, "/api/v1/conversations", Some(CLINIC_KEY)).await?;
    let conv = convs["conversations"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["contact"]["handle"] == chat.session.as_str())
        })
        .and_then(|c| c["id"].as_i64())
        .context("the chat's conversation")?;
    let (status, v) = post(
        &server,
        &format!("/api/v1/conversations/{conv}/messages"),
        Some(CLINIC_KEY),
        json!({"text": "Merhaba, ben Selin."}),
    )
    .await?;
    assert_eq!(status, 202, "{v}");
    let (_, detail) = get(&server, &path, Some(CLINIC_KEY)).await?;
    assert!(detail["lead"]["first_response_at"].is_string(), "{detail}");
    let timeline = detail["timeline"].as_array().cloned().unwrap_or_default();
    assert!(
        timeline.iter().any(|e| e["kind"] == "note"
            && e["actor"] == "agent:Selin"
            && e["data"]["text"] == "Hasta cumartesi aranacak"),
        "{timeline:#?}"
    );
    assert!(
        timeline.iter().any(|e| e["kind"] == "stage_changed"),
        "{timeline:#?}"
    );

    // CSV export: BOM, header, RFC 4180 quoting, formulas defused.
    let (status, ctype, csv) = raw_call(
        &server,
        reqwest::Method::GET,
        "/api/v1/leads.csv?stage=lost",
        Some(CLINIC_KEY),
        None,
    )
    .await?;
    assert_eq!((status, ctype.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(csv.starts_with("\u{feff}id,created_at,stage,lost_reason,score,score_reasons,assignee,source,name,phone,email,language,treatment,value_try,first_response_at,sla_breached\r\n"), "{csv}");
    let row = csv
        .split("\r\n")
        .find(|r| r.starts_with(&format!("{id},")))
        .with_context(|| format!("the lead's row in {csv}"))?;
    assert!(
        row.contains(",lost,\"'=HYPERLINK(\"\"http://x\"\",\"\"tıkla\"\"), \"\"pahalı\"\"\","),
        "{row}"
    );
    assert!(row.contains(",deniz,"), "{row}");
    assert_eq!(
        raw_call(
            &server,
            reqwest::Method::GET,
            "/api/v1/leads.csv",
            None,
            None
        )
        .await?
        .0,
        401
    );

    // The CRM got every timeline event, signed, once each, in order, after its 500s.
    let (_, detail) = get(&server, &path, Some(CLINIC_KEY)).await?;
    let want: HashSet<String> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].to_string())
        .collect();
    eventually(
        "the CRM to receive every event",
        Duration::from_secs(45),
        || async {
            let delivered: HashSet<String> = crm
                .requests()
                .into_iter()
                .filter(|r| r.status == 200)
                .map(|r| r.delivery)
                .collect();
            Ok(want.is_subset(&delivered).then_some(()))
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let requests = crm.requests();
    assert!(
        requests.iter().all(|r| r.signature_ok),
        "every delivery is signed"
    );
    let failed: Vec<&CrmRequest> = requests.iter().filter(|r| r.status == 500).collect();
    assert_eq!(failed.len(), 2);
    let mut ok_per_id: HashMap<&str, usize> = HashMap::new();
    for r in requests.iter().filter(|r| r.status == 200) {
        *ok_per_id.entry(r.delivery.as_str()).or_default() += 1;
        assert_eq!(r.body["id"].to_string(), r.delivery);
        assert_eq!(r.body["event"]["kind"].as_str(), Some(r.event.as_str()));
        assert_eq!(r.body["tenant"], "klinik");
        assert!(r.body["lead"]["id"].is_i64(), "{:?}", r.body);
    }
    assert!(
        ok_per_id.values().all(|n| *n == 1),
        "each event once: {ok_per_id:?}"
    );
    for f in &failed {
        assert!(
            ok_per_id.contains_key(f.delivery.as_str()),
            "a failed event was retried"
        );
    }
    // One lead's events arrive in order.
    let order: Vec<i64> = requests
        .iter()
        .filter(|r| r.status == 200 && r.body["lead"]["id"] == id)
        .filter_map(|r| r.body["id"].as_i64())
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    chat.close().await;
    Ok(())
}

// ------------------------------------------------------------------ appointments + iCal

/// 10:00 Istanbul time, `days` from now.
fn at_ten(days: i64) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Istanbul").unwrap();
    let day = jiff::Timestamp::now().to_zoned(tz).date() + jiff::Span::new().days(days);
    format!("{day}T10:00:00+03:00")
}

async fn appointments_and_calendars(server: &Server) -> Result<()> {
    let (status, v) = get(server, "/api/v1/clinic", Some(CLINIC_KEY)).await?;
    assert_eq!(status, 200, "{v}");
    let clinic = &v["clinic"];
    let service = &clinic["services"][0];
    let service_id = service["id"].as_str().context("a service")?.to_string();
    let practitioner = service["practitioners"][0]
        .as_str()
        .context("a practitioner of the service")?
        .to_string();
    assert_eq!(
        get(server, "/api/v1/clinic", Some(SHOP_KEY)).await?.0,
        404,
        "the shop has no clinic"
    );

    // Validation.
    let book = |service: &str, practitioner: &str, starts_at: &str| json!({"service": service, "practitioner": practitioner, "starts_at": starts_at});
    let when = at_ten(3);
    for (body, needle) in [
        (book("bogus", &practitioner, &when), "unknown service"),
        (
            book(&service_id, "dr-nobody", &when),
            "unknown practitioner",
        ),
        (book(&service_id, &practitioner, "yarın 10:00"), "starts_at"),
    ] {
        let (status, v) = post(
            server,
            "/api/v1/appointments",
            Some(CLINIC_KEY),
            body.clone(),
        )
        .await?;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(message(&v).contains(needle), "{body}: {v}");
    }
    assert_eq!(
        post(
            server,
            "/api/v1/appointments",
            None,
            book(&service_id, &practitioner, &when)
        )
        .await?
        .0,
        401
    );
    let (status, v) = post(
        server,
        "/api/v1/appointments",
        Some(SHOP_KEY),
        book(&service_id, &practitioner, &when),
    )
    .await?;
    assert_eq!(status, 404);
    assert!(message(&v).contains("no clinic data"), "{v}");

    // Two agents book the same slot at once: exactly one gets it.
    let body = book(&service_id, &practitioner, &when);
    let (a, b) = tokio::join!(
        post(
            server,
            "/api/v1/appointments",
            Some(CLINIC_KEY),
            body.clone()
        ),
        post(
            server,
            "/api/v1/appointments",
            Some(CLINIC_KEY),
            body.clone()
        ),
    );
    let (a, b) = (a?, b?);
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let (won, lost) = if a.0 == 201 {
        (&a.1, &b.1)
    } else {
        (&b.1, &a.1)
    };
    let booked = won["appointment"].clone();
    assert!(
        !message(lost).is_empty(),
        "the 409 says what is taken: {lost}"
    );
    let appointment = booked["id"].as_i64().context("appointment id")?;
    let duration = service["duration_minutes"].as_i64().unwrap();
    let start: jiff::Timestamp = booked["starts_at"].as_str().unwrap().parse()?;
    let end: jiff::Timestamp = booked["ends_at"].as_str().unwrap().parse()?;
    assert_eq!(
        end.duration_since(start).as_mins(),
        duration,
        "the service's length"
    );

    // Listing and filters.
    let (status, v) = get(
        server,
        &format!("/api/v1/appointments?practitioner={practitioner}&status=booked"),
        Some(CLINIC_KEY),
    )
    .await?;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == appointment)
    );
    assert_eq!(
        get(
            server,
            "/api/v1/appointments?status=maybe",
            Some(CLINIC_KEY)
        )
        .await?
        .0,
        400
    );
    let (_, v) = get(server, "/api/v1/appointments", Some(SHOP_KEY)).await?;
    assert_eq!(v["appointments"], json!([]));

    // Status: another tenant's appointment is not found; a bad status is refused.
    let status_url = format!("/api/v1/appointments/{appointment}/status");
    assert_eq!(
        post(
            server,
            &status_url,
            Some(SHOP_KEY),
            json!({"status": "showed"})
        )
        .await?
        .0,
        404
    );
    assert_eq!(
        post(
            server,
            &status_url,
            Some(CLINIC_KEY),
            json!({"status": "held"})
        )
        .await?
        .0,
        400
    );
    let (status, v) = post(
        server,
        &status_url,
        Some(CLINIC_KEY),
        json!({"status": "showed"}),
    )
    .await?;
    assert_eq!(
        (
            status,
            v["appointment"]["status"].as_str(),
            v["changed"].as_bool()
        ),
        (200, Some("showed"), Some(true)),
        "{v}"
    );
    let (_, v) = post(
        server,
        &status_url,
        Some(CLINIC_KEY),
        json!({"status": "showed"}),
    )
    .await?;
    assert_eq!(v["changed"], false, "repeating a status changes nothing");

    // A second visit, cancelled; a third, a no-show.
    let (status, v) = post(
        server,
        "/api/v1/appointments",
        Some(CLINIC_KEY),
        book(&service_id, &practitioner, &at_ten(4)),
    )
    .await?;
    assert_eq!(status, 201, "{v}");
    let cancelled = v["appointment"]["id"].as_i64().unwrap();
    let (status, v) = post(
        server,
        &format!("/api/v1/appointments/{cancelled}/status"),
        Some(CLINIC_KEY),
        json!({"status": "cancelled"}),
    )
    .await?;
    assert_eq!(status, 200, "{v}");
    // The freed slot can be booked again.
    let (status, v) = post(
        server,
        "/api/v1/appointments",
        Some(CLINIC_KEY),
        book(&service_id, &practitioner, &at_ten(4)),
    )
    .await?;
    assert_eq!(status, 201, "a cancelled slot is free again: {v}");
    let rebooked = v["appointment"]["id"].as_i64().unwrap();
    let (status, v) = post(
        server,
        &format!("/api/v1/appointments/{rebooked}/status"),
        Some(CLINIC_KEY),
        json!({"status": "no_show"}),
    )
    .await?;
    assert_eq!(
        (status, v["appointment"]["status"].as_str()),
        (200, Some("no_show")),
        "{v}"
    );

    // The practitioner's calendar feed: the token from the list opens it, nothing else does.
    let (status, v) = get(server, "/api/v1/practitioners", Some(CLINIC_KEY)).await?;
    assert_eq!(status, 200, "{v}");
    let url = v["practitioners"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] == practitioner.as_str()))
        .and_then(|p| p["calendar_url"].as_str())
        .context("calendar_url")?
        .to_string();
    let (status, ctype, ics) = raw_call(server, reqwest::Method::GET, &url, None, None).await?;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "text/calendar; charset=utf-8"),
        "{ics}"
    );
    let ics = ics.replace("\r\n ", "");
    assert!(ics.starts_with("BEGIN:VCALENDAR"), "{ics}");
    assert!(
        ics.contains(&format!("UID:appointment-{appointment}-klinik@kopru")),
        "{ics}"
    );
    let dtstart = format!("DTSTART:{}", start.strftime("%Y%m%dT%H%M%SZ"));
    assert!(ics.contains(&dtstart), "{dtstart} in {ics}");
    let cancelled_event = ics
        .split("BEGIN:VEVENT")
        .find(|e| e.contains(&format!("UID:appointment-{cancelled}-klinik@kopru")))
        .context("the cancelled visit stays in the feed")?;
    assert!(
        cancelled_event.contains("STATUS:CANCELLED"),
        "{cancelled_event}"
    );
    let (path, token) = url.split_once("?token=").unwrap();
    for bad in [
        path.to_string(),
        format!("{path}?token="),
        format!("{path}?token={}", "0".repeat(64)),
        format!("{path}?token={token}x"),
    ] {
        let (status, _, _) = raw_call(server, reqwest::Method::GET, &bad, None, None).await?;
        assert_eq!(status, 401, "{bad}");
    }
    // A token opens its own practitioner's feed only.
    let other = clinic["practitioners"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] != practitioner.as_str()))
        .and_then(|p| p["id"].as_str());
    if let Some(other) = other {
        let (status, _, _) = raw_call(
            server,
            reqwest::Method::GET,
            &format!("/api/v1/practitioners/{other}/calendar.ics?token={token}"),
            None,
            None,
        )
        .await?;
        assert_eq!(status, 401);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_bookings_statuses_and_calendar_feeds_on_sqlite() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_server(dir.path(), Stores::Embedded, None)?;
    appointments_and_calendars(&server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_bookings_statuses_and_calendar_feeds_on_postgres() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let prod = ProductionStores::start()?;
    let server = start_server(dir.path(), prod.stores(), None)?;
    appointments_and_calendars(&server).await
}

// ------------------------------------------------------------------ clinic data

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_list_and_clinic_file_are_replaced_through_the_api() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_server(dir.path(), Stores::Embedded, None)?;
    let prices_url = "/api/v1/clinic/prices.csv";
    let put = |path: &'static str, key: Option<&'static str>, text: String| {
        raw_call(&server, reqwest::Method::PUT, path, key, Some(text.into()))
    };

    let (status, ctype, before) = raw_call(
        &server,
        reqwest::Method::GET,
        prices_url,
        Some(CLINIC_KEY),
        None,
    )
    .await?;
    assert_eq!((status, ctype.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(before.lines().count() > 1, "{before}");
    assert_eq!(
        raw_call(&server, reqwest::Method::GET, prices_url, None, None)
            .await?
            .0,
        401
    );
    assert_eq!(
        raw_call(
            &server,
            reqwest::Method::GET,
            prices_url,
            Some(SHOP_KEY),
            None
        )
        .await?
        .0,
        404
    );
    assert_eq!(
        put(prices_url, Some(SHOP_KEY), before.clone()).await?.0,
        404
    );

    // A bad row: 422 naming it; the old list stays in effect.
    let columns = before.lines().next().unwrap().split([',', ';']).count();
    let mut bad_row = vec!["bozuk-satir"; 1];
    bad_row.extend(std::iter::repeat_n("abc", columns - 1));
    let bad = format!("{}\n{}\n", before.trim_end(), bad_row.join(","));
    let bad_row_number = bad.trim_end().lines().count();
    let (status, _, v) = put(prices_url, Some(CLINIC_KEY), bad).await?;
    assert_eq!(status, 422, "{v}");
    let v: Value = serde_json::from_str(&v)?;
    assert!(
        message(&v).contains(&format!("row {bad_row_number}")),
        "names the row: {v}"
    );
    let (_, _, still) = raw_call(
        &server,
        reqwest::Method::GET,
        prices_url,
        Some(CLINIC_KEY),
        None,
    )
    .await?;
    assert_eq!(still, before);

    // Over 1 MB: 413.
    let huge = format!("{}\n{}", before, "#".repeat(1024 * 1024 + 1));
    assert_eq!(put(prices_url, Some(CLINIC_KEY), huge).await?.0, 413);

    // A good list: in effect at once (and what GET /clinic shows, and what a patient
    // asking the price is told).
    let scaling = |v: &Value| -> Option<i64> {
        v["clinic"]["prices"]
            .as_array()?
            .iter()
            .find(|p| p["treatment"] == "scaling")?["max_try"]
            .as_i64()
    };
    let (_, v) = get(&server, "/api/v1/clinic", Some(CLINIC_KEY)).await?;
    assert_eq!(scaling(&v), Some(2500), "the bundled demo price");
    let row = before
        .lines()
        .find(|l| l.starts_with("scaling,"))
        .context("the scaling row")?;
    let cheaper = before.replace(row, &row.replace(",1500,2500,", ",1700,2700,"));
    assert_ne!(cheaper, before);
    let (status, _, v) = put(prices_url, Some(CLINIC_KEY), cheaper.clone()).await?;
    assert_eq!(status, 200, "{v}");
    let (_, _, now) = raw_call(
        &server,
        reqwest::Method::GET,
        prices_url,
        Some(CLINIC_KEY),
        None,
    )
    .await?;
    assert_eq!(now, cheaper);
    let (_, v) = get(&server, "/api/v1/clinic", Some(CLINIC_KEY)).await?;
    assert_eq!(scaling(&v), Some(2700));
    let mut chat = Chat::connect(&server.ws_url("klinik"), None, 0).await?;
    let reply = chat.ask("diş taşı temizliği fiyatı ne kadar").await?;
    assert!(reply.contains("2.700"), "the new price is quoted: {reply}");
    chat.close().await;

    // clinic.toml: a broken file is refused naming the place, nothing changes.
    let toml_url = "/api/v1/clinic/clinic.toml";
    let (status, ctype, toml_before) = raw_call(
        &server,
        reqwest::Method::GET,
        toml_url,
        Some(CLINIC_KEY),
        None,
    )
    .await?;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "application/toml; charset=utf-8")
    );
    let (status, _, v) = put(
        toml_url,
        Some(CLINIC_KEY),
        format!("{toml_before}\n[[unknown_section]]\nx = 1\n"),
    )
    .await?;
    assert_eq!(status, 422, "{v}");
    assert!(v.contains("clinic.toml"), "{v}");
    let (_, _, toml_after) = raw_call(
        &server,
        reqwest::Method::GET,
        toml_url,
        Some(CLINIC_KEY),
        None,
    )
    .await?;
    assert_eq!(toml_after, toml_before);
    let (status, _, v) = put(toml_url, Some(CLINIC_KEY), toml_before.clone()).await?;
    assert_eq!(status, 200, "{v}");
    Ok(())
}

// ------------------------------------------------------------------ a chat booking, a no-show

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_show_marked_by_an_agent_reaches_the_patient() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_server(dir.path(), Stores::Embedded, None)?;
    let (mut chat, lead) = lead_from_chat(&server).await?;
    let lead_id = lead["id"].as_i64().context("lead id")?;

    // The patient books an examination in the chat by tapping an offered slot.
    chat.say("muayene için randevu almak istiyorum").await?;
    let offer = chat.reply(Duration::from_secs(15)).await?;
    let slot = offer["buttons"]
        .as_array()
        .and_then(|b| {
            b.iter()
                .find(|b| b["id"].as_str().is_some_and(|id| id.starts_with("slot:")))
        })
        .cloned()
        .with_context(|| format!("slot buttons in {offer}"))?;
    chat.send_raw(
        json!({"type": "postback", "id": format!("p-{}", uuid::Uuid::new_v4().simple()),
               "button": slot["id"], "title": slot["title"]})
        .to_string(),
    )
    .await?;
    let booked = chat.reply(Duration::from_secs(15)).await?;
    let (_, convs) = get(&server, "/api/v1/conversations", Some(CLINIC_KEY)).await?;
    let conv = convs["conversations"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["contact"]["handle"] == chat.session.as_str())
        })
        .and_then(|c| c["id"].as_i64())
        .context("the chat's conversation")?;
    let (_, v) = get(
        &server,
        &format!("/api/v1/appointments?conversation={conv}&status=booked"),
        Some(CLINIC_KEY),
    )
    .await?;
    let appointment = v["appointments"][0]["id"]
        .as_i64()
        .with_context(|| format!("the chat's booking after {booked}: {v}"))?;

    // The front desk marks it a no-show: the patient gets the recovery message, once,
    // even when the request is repeated.
    let url = format!("/api/v1/appointments/{appointment}/status");
    let (status, v) = post(
        &server,
        &url,
        Some(CLINIC_KEY),
        json!({"status": "no_show", "agent": "Resepsiyon"}),
    )
    .await?;
    assert_eq!((status, v["changed"].as_bool()), (200, Some(true)), "{v}");
    let recovery = chat.reply(Duration::from_secs(15)).await?;
    assert!(
        recovery["text"]
            .as_str()
            .is_some_and(|t| t.contains("göremedik")),
        "{recovery}"
    );
    let (status, v) = post(
        &server,
        &url,
        Some(CLINIC_KEY),
        json!({"status": "no_show"}),
    )
    .await?;
    assert_eq!((status, v["changed"].as_bool()), (200, Some(false)), "{v}");
    let again = chat.drain(Duration::from_millis(1500)).await;
    assert!(
        again.iter().all(|f| f["type"] != "message"),
        "no second recovery message: {again:?}"
    );

    // The lead's timeline has the booking and the no-show.
    let (_, detail) = get(
        &server,
        &format!("/api/v1/leads/{lead_id}"),
        Some(CLINIC_KEY),
    )
    .await?;
    assert_eq!(detail["lead"]["stage"], "appointment_booked", "{detail}");
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"appointment_booked"), "{kinds:?}");
    assert!(kinds.contains(&"appointment_no_show"), "{kinds:?}");
    chat.close().await;
    Ok(())
}
