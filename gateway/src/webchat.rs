//! The web chat socket `GET /webchat/{tenant}/ws` (protocol: `docs/webchat-protocol.md`).
//! A socket is a view of one conversation: customer frames go through [`ingest`];
//! what the socket shows is read back from the store by `seq`, so every replica and
//! every tab shows the same messages, in order, once.

use crate::api::ApiError;
use crate::inbox::ingest;
use crate::metrics as m;
use crate::runtime::{Runtime, Tenant};
use crate::server::AppState;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use channels::webchat::{
    self, ClientFrame, ErrorCode, FrameError, PROTOCOL_VERSION, PageReferral, Sender, ServerFrame,
};
use channels::{Channel, Content, OutContent};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::{Direction, MessageStatus, Notice};
use tokio::sync::{broadcast, mpsc};

/// Frames above this are cut off by the socket layer (the connection closes); frames
/// between the protocol limit and this get an error frame and the socket stays open.
const TRANSPORT_LIMIT: usize = 64 * 1024;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Customer messages per socket per window.
const RATE_LIMIT: u32 = 20;
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Upgrades after checking the tenant and the page origin.
pub async fn upgrade(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let t = state
        .rt
        .tenant(&tenant)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("unknown tenant {tenant:?}")))?;
    let Some(wc) = &t.config.webchat else {
        return Err(ApiError::NotFound(format!(
            "tenant {tenant:?} has no web chat"
        )));
    };
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        // Pages served by the gateway itself (the demo page) are same-origin.
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let same_origin = !host.is_empty()
            && (origin == format!("http://{host}") || origin == format!("https://{host}"));
        if !same_origin && !wc.allowed_origins.iter().any(|o| o == origin) {
            m::rejected("webchat", "origin");
            return Err(ApiError::Forbidden(format!(
                "origin {origin:?} may not open this tenant's web chat"
            )));
        }
    }
    let ws = ws.map_err(|e| {
        ApiError::BadRequest(format!(
            "this endpoint speaks WebSocket (docs/webchat-protocol.md): {}",
            e.body_text()
        ))
    })?;
    let shutdown = state.shutdown.clone();
    let rt = state.rt.clone();
    let hub = state.hub.clone();
    Ok(ws
        .max_message_size(TRANSPORT_LIMIT)
        .max_frame_size(TRANSPORT_LIMIT)
        .on_upgrade(move |socket| async move {
            m::webchat_sockets(1.0);
            Session::run(rt, hub, t, socket, shutdown).await;
            m::webchat_sockets(-1.0);
        }))
}

struct Session {
    rt: Arc<Runtime>,
    tenant: Arc<Tenant>,
    session: String,
    name: Option<String>,
    referral: Option<PageReferral>,
    conversation: Option<i64>,
    /// The highest `seq` this socket has shown.
    cursor: i64,
    window_start: Instant,
    in_window: u32,
}

type Tx = futures_util::stream::SplitSink<WebSocket, Message>;

async fn send(tx: &mut Tx, frame: &ServerFrame) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => tx.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => true,
    }
}

async fn refuse(tx: &mut Tx, code: ErrorCode, message: &str) {
    m::rejected("webchat", "frame");
    let _ = send(
        tx,
        &ServerFrame::Error {
            code,
            message: message.to_string(),
        },
    )
    .await;
}

impl Session {
    async fn run(
        rt: Arc<Runtime>,
        hub: Arc<Hub>,
        tenant: Arc<Tenant>,
        socket: WebSocket,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let (mut tx, mut rx) = socket.split();
        let first = match tokio::time::timeout(HELLO_TIMEOUT, rx.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(_))) => {
                refuse(&mut tx, ErrorCode::Malformed, "expected a hello text frame").await;
                return;
            }
            _ => return,
        };
        let (session, last_seen, name, referral) = match webchat::parse_client_frame(&first) {
            Ok(ClientFrame::Hello {
                v,
                session,
                last_seen,
                name,
                referral,
            }) => {
                if v != PROTOCOL_VERSION {
                    refuse(
                        &mut tx,
                        ErrorCode::UnsupportedVersion,
                        &format!("this server speaks version {PROTOCOL_VERSION}"),
                    )
                    .await;
                    let _ = tx.send(Message::Close(None)).await;
                    return;
                }
                (session, last_seen, name, referral)
            }
            Ok(_) => {
                refuse(
                    &mut tx,
                    ErrorCode::OutOfOrder,
                    "the first frame must be hello",
                )
                .await;
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
            Err(e) => {
                refuse(&mut tx, e.code, &e.message).await;
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
        };
        let session = session.unwrap_or_else(|| format!("wc-{}", uuid::Uuid::new_v4().simple()));
        let conversation = match rt
            .store
            .find_conversation(&tenant.config.id, Channel::Webchat, &session)
            .await
        {
            Ok(c) => c.map(|c| c.id),
            Err(e) => {
                tracing::warn!(error = %e, "web chat: store unavailable at hello");
                refuse(&mut tx, ErrorCode::Unavailable, "please reconnect shortly").await;
                return;
            }
        };
        let mut s = Session {
            rt: rt.clone(),
            tenant: tenant.clone(),
            session: session.clone(),
            name: name
                .filter(|n| !n.trim().is_empty())
                .map(|n| n.chars().take(100).collect()),
            referral,
            conversation,
            cursor: last_seen.unwrap_or(0).max(0),
            window_start: Instant::now(),
            in_window: 0,
        };
        if !send(
            &mut tx,
            &ServerFrame::Welcome {
                v: PROTOCOL_VERSION,
                session,
                tenant_name: tenant.config.name.clone(),
            },
        )
        .await
        {
            return;
        }
        let hub = hub.clone();
        let mut wake = s.conversation.map(|c| hub.register(&s.tenant.config.id, c));
        // Wake-ups can be lost only across replicas (Redis down); then polling covers.
        let poll_every = if rt.hot.backend() == "redis" {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(5)
        };
        let mut poll = tokio::time::interval(poll_every);
        if !s.flush(&mut tx).await {
            return;
        }
        loop {
            tokio::select! {
                frame = rx.next() => {
                    let keep = match frame {
                        Some(Ok(Message::Text(text))) => {
                            let mut keep = s.on_text(&mut tx, &text).await;
                            if wake.is_none() && s.conversation.is_some() {
                                wake = s.conversation.map(|c| hub.register(&s.tenant.config.id, c));
                                // A reply stored between `on_text`'s look and this
                                // registration woke no one: look once more, now that
                                // every later one will.
                                keep = keep && s.flush(&mut tx).await;
                            }
                            keep
                        }
                        Some(Ok(Message::Binary(_))) => {
                            refuse(&mut tx, ErrorCode::Malformed, "binary frames are not part of the protocol").await;
                            true
                        }
                        Some(Ok(Message::Close(_))) | None => false,
                        Some(Ok(_)) => true,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "web chat socket error");
                            false
                        }
                    };
                    if !keep { break; }
                }
                Some(()) = async { match wake.as_mut() { Some(w) => w.rx.recv().await, None => std::future::pending().await } } => {
                    if !s.flush(&mut tx).await { break; }
                }
                _ = poll.tick() => {
                    if !s.flush(&mut tx).await { break; }
                }
                _ = shutdown.changed() => {
                    let _ = tx.send(Message::Close(None)).await;
                    break;
                }
            }
        }
    }

    /// Handles one text frame; false closes the socket.
    async fn on_text(&mut self, tx: &mut Tx, text: &str) -> bool {
        let frame = match webchat::parse_client_frame(text) {
            Ok(f) => f,
            Err(FrameError { code, message }) => {
                refuse(tx, code, &message).await;
                return true;
            }
        };
        let client_id = match &frame {
            ClientFrame::Ping => return send(tx, &ServerFrame::Pong).await,
            ClientFrame::Hello { .. } => {
                refuse(tx, ErrorCode::OutOfOrder, "hello was already received").await;
                return true;
            }
            ClientFrame::Message { id, .. } | ClientFrame::Postback { id, .. } => id.clone(),
        };
        if !self.allow() {
            refuse(
                tx,
                ErrorCode::RateLimited,
                "too many messages; wait a few seconds",
            )
            .await;
            return true;
        }
        let Some(inbound) = webchat::normalize(
            &self.tenant.config.id,
            &self.session,
            self.name.as_deref(),
            self.referral.as_ref(),
            &frame,
        ) else {
            return true;
        };
        match ingest(&self.rt, &inbound).await {
            Ok(done) => {
                let first = self.conversation.is_none();
                if first {
                    self.conversation = match done.conversation {
                        Some(c) => Some(c),
                        None => self
                            .rt
                            .store
                            .find_conversation(
                                &self.tenant.config.id,
                                Channel::Webchat,
                                &self.session,
                            )
                            .await
                            .ok()
                            .flatten()
                            .map(|c| c.id),
                    };
                }
                // The echo follows through the conversation's wake-up (published by
                // `ingest`), as it does in every other tab and replica; the first message
                // of a new conversation came before this socket could listen for it.
                send(
                    tx,
                    &ServerFrame::Ack {
                        id: client_id,
                        duplicate: done.duplicate,
                    },
                )
                .await
                    && (!first || self.flush(tx).await)
            }
            Err(e) => {
                tracing::warn!(tenant = %self.tenant.config.id, error = %e, "web chat message not stored");
                refuse(
                    tx,
                    ErrorCode::Unavailable,
                    "message not stored; resend it with the same id",
                )
                .await;
                true
            }
        }
    }

    fn allow(&mut self) -> bool {
        if self.window_start.elapsed() > RATE_WINDOW {
            self.window_start = Instant::now();
            self.in_window = 0;
        }
        self.in_window += 1;
        self.in_window <= RATE_LIMIT
    }

    /// Sends every stored message after the cursor, stopping at the first reply still
    /// waiting in the outbox so nothing is shown before it is delivered, or skipped.
    async fn flush(&mut self, tx: &mut Tx) -> bool {
        let Some(conversation) = self.conversation else {
            return true;
        };
        loop {
            let batch = match self
                .rt
                .store
                .messages(&self.tenant.config.id, conversation, self.cursor, 200)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::debug!(error = %e, "web chat: reading messages failed; will retry");
                    return true;
                }
            };
            let full = batch.len() == 200;
            for msg in batch {
                if msg.direction == Direction::Out {
                    match msg.status {
                        MessageStatus::Queued => return true,
                        MessageStatus::Failed => {
                            self.cursor = msg.seq;
                            continue;
                        }
                        _ => {}
                    }
                }
                let at = msg.created_at.to_string();
                let frame = match msg.direction {
                    Direction::In => {
                        let content: Option<Content> =
                            serde_json::from_value(msg.content.clone()).ok();
                        let text = content
                            .as_ref()
                            .and_then(|c| c.text())
                            .unwrap_or("")
                            .to_string();
                        let prefix = format!("{}:", self.session);
                        ServerFrame::Message {
                            seq: msg.seq,
                            from: Sender::Customer,
                            text,
                            buttons: Vec::new(),
                            at,
                            client_id: msg
                                .provider_id
                                .as_deref()
                                .and_then(|p| p.strip_prefix(&prefix))
                                .map(str::to_string),
                        }
                    }
                    Direction::Out => {
                        let content: OutContent = match serde_json::from_value(msg.content.clone())
                        {
                            Ok(c) => c,
                            Err(_) => {
                                self.cursor = msg.seq;
                                continue;
                            }
                        };
                        webchat::render(msg.seq, Sender::for_sender(&msg.sender), &content, at)
                    }
                };
                if !send(tx, &frame).await {
                    return false;
                }
                self.cursor = msg.seq;
            }
            if !full {
                return true;
            }
        }
    }
}

/// Routes "new messages in conversation X" wake-ups to the sockets showing X, so a
/// notice costs one map lookup instead of waking every open socket.
#[derive(Default)]
pub struct Hub {
    sockets: Mutex<HashMap<ConversationKey, Vec<Waker>>>,
    next: AtomicU64,
}

/// (tenant, conversation id).
type ConversationKey = (String, i64);
/// A registration id and the socket's wake-up channel.
type Waker = (u64, mpsc::Sender<()>);

/// A socket's registration; unregisters when dropped.
pub struct Wake {
    hub: Arc<Hub>,
    key: ConversationKey,
    id: u64,
    rx: mpsc::Receiver<()>,
}

impl Drop for Wake {
    fn drop(&mut self) {
        let mut map = self.hub.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = map.get_mut(&self.key) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                map.remove(&self.key);
            }
        }
    }
}

impl Hub {
    fn register(self: &Arc<Self>, tenant: &str, conversation: i64) -> Wake {
        // Capacity one: wake-ups coalesce, the socket reads everything after its cursor.
        let (tx, rx) = mpsc::channel(1);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let key = (tenant.to_string(), conversation);
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .push((id, tx));
        Wake {
            hub: self.clone(),
            key,
            id,
            rx,
        }
    }

    fn notify(&self, tenant: &str, conversation: i64) {
        let map = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = map.get(&(tenant.to_string(), conversation)) {
            for (_, tx) in list {
                let _ = tx.try_send(());
            }
        }
    }

    fn notify_all(&self) {
        let map = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        for (_, tx) in map.values().flatten() {
            let _ = tx.try_send(());
        }
    }

    /// Forwards notices to the sockets until the notice stream closes.
    pub async fn run(self: Arc<Self>, mut notices: broadcast::Receiver<Notice>) {
        loop {
            match notices.recv().await {
                Ok(Notice::Messages {
                    tenant,
                    conversation,
                }) => self.notify(&tenant, conversation),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => self.notify_all(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
