//! The HTTP edge: `app(state) -> Router` and [`serve`], which runs the router and the
//! workers until shutdown. Tests bind port 0 and call the same functions.

use crate::api::{self, ApiError};
use crate::runtime::Runtime;
use crate::webchat;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub rt: Arc<Runtime>,
    pub metrics: PrometheusHandle,
    /// Turns true when the server is shutting down (open sockets close).
    pub shutdown: watch::Receiver<bool>,
    /// Wakes the web chat sockets of a conversation.
    pub hub: Arc<webchat::Hub>,
}

/// The gateway's routes.
pub fn app(state: AppState) -> Router {
    let max_body = state.rt.config.server.max_body_bytes;
    Router::new()
        .route("/", get(demo_page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/webchat.js", get(widget))
        .route("/webchat/{tenant}/ws", get(webchat::upgrade))
        .route(
            "/webhooks/meta",
            get(crate::webhooks::meta_verify).post(crate::webhooks::meta_receive),
        )
        .route(
            "/webhooks/telegram/{tenant}",
            post(crate::webhooks::telegram_receive),
        )
        .route("/api/v1/conversations", get(api::list_conversations))
        .route("/api/v1/conversations/{id}", get(api::get_conversation))
        .route(
            "/api/v1/conversations/{id}/messages",
            get(api::list_messages).post(api::agent_message),
        )
        .route("/api/v1/conversations/{id}/release", post(api::release))
        .merge(crate::clinic_api::routes())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the stores answer; 503 naming the one that does not.
async fn readyz(State(state): State<AppState>) -> Response {
    let rt = &state.rt;
    let store = tokio::time::timeout(Duration::from_secs(2), rt.store.ping()).await;
    let hot = tokio::time::timeout(Duration::from_secs(2), rt.hot.ping()).await;
    let ok = |r: &Result<Result<(), store::StoreError>, _>| matches!(r, Ok(Ok(())));
    let body = json!({
        "store": {"backend": rt.store.backend(), "ok": ok(&store)},
        "hot": {"backend": rt.hot.backend(), "ok": ok(&hot)},
    });
    let status = if ok(&store) && ok(&hot) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn widget() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        channels::webchat::WIDGET_JS,
    )
        .into_response()
}

/// A page that embeds the widget for each tenant with web chat, to try the product.
async fn demo_page(State(state): State<AppState>) -> Html<String> {
    let mut tenants: Vec<_> = state
        .rt
        .tenants
        .values()
        .filter(|t| t.config.webchat.is_some())
        .map(|t| {
            (
                t.config.id.clone(),
                t.config.name.clone(),
                t.profile.niche.as_str(),
            )
        })
        .collect();
    tenants.sort();
    let first = tenants.first().map(|t| t.0.clone()).unwrap_or_default();
    let links: String = tenants
        .iter()
        .map(|(id, name, niche)| {
            format!(
                "<li><a href=\"?tenant={id}\">{}</a> <small>({niche})</small></li>",
                html_escape(name)
            )
        })
        .collect();
    Html(format!(
        r#"<!doctype html>
<html lang="tr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Köprü demo</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2937}}</style></head>
<body><h1>Köprü</h1><p>Demo işletmeler — sağ alttaki sohbet balonundan yazabilirsiniz:</p><ul>{links}</ul>
<script>
(function(){{var t=new URLSearchParams(location.search).get('tenant')||'{first}';
var s=document.createElement('script');s.src='/webchat.js';s.async=true;s.setAttribute('data-tenant',t);document.body.appendChild(s);}})();
</script></body></html>"#
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves `listener` and runs the workers until `shutdown` resolves; then stops
/// accepting, closes sockets and waits up to the configured grace for work in flight.
pub async fn serve(
    rt: Arc<Runtime>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = crate::workers::spawn_all(&rt, &stop_rx);
    workers.extend(crate::polling::spawn_pollers(&rt, stop_rx.clone()));
    workers.extend(crate::crm::spawn(&rt, stop_rx.clone()));
    let hub = Arc::new(webchat::Hub::default());
    let hub_task = tokio::spawn(hub.clone().run(rt.hot.subscribe()));
    let state = AppState {
        rt: rt.clone(),
        metrics: crate::metrics::install(),
        shutdown: stop_rx.clone(),
        hub,
    };
    let stop_for_server = stop_tx.clone();
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_for_server.send(true);
    });
    server.await?;
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(rt.config.server.shutdown_grace_seconds);
    let joined = tokio::time::timeout(grace, futures_util::future::join_all(workers)).await;
    hub_task.abort();
    if joined.is_err() {
        tracing::warn!("workers did not stop within the grace period; leases will expire");
    }
    Ok(())
}
