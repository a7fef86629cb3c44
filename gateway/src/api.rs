//! The admin API under `/api/v1/`: JSON, `Authorization: Bearer <tenant key>`. A key
//! sees only its own tenant: another tenant's conversation is a 404, no key a 401.
//! [`ApiError`] is the one place errors become HTTP statuses and client-safe bodies.

use crate::runtime::{Runtime, Tenant};
use crate::server::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// An error a client may see: a status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized(&'static str),
    Forbidden(String),
    NotFound(String),
    BadRequest(String),
    /// What the request wants is taken or changed meanwhile (a booked slot).
    Conflict(String),
    /// The body is over the route's size limit.
    TooLarge(String),
    /// The body is well-formed but its content is refused (a price list with a bad row).
    Unprocessable(String),
    Unavailable(String),
    Internal,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.to_string()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", m.clone()),
            ApiError::Unprocessable(m) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", m.clone())
            }
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m.clone()),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something failed on our side; it has been logged".into(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        crate::metrics::rejected("api", code);
        let mut resp = (
            status,
            Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound => ApiError::NotFound("not found".into()),
            store::StoreError::Conflict(m) => ApiError::Conflict(m),
            store::StoreError::Invalid(m) => ApiError::BadRequest(m),
            other => {
                // Internals are logged, never sent to the client.
                tracing::error!(error = %other, "store error in admin API");
                ApiError::Unavailable("storage is not answering; try again".into())
            }
        }
    }
}

/// The tenant whose key authorised the request.
pub struct TenantAuth(pub Arc<Tenant>);

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header =
            parts
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .ok_or(ApiError::Unauthorized(
                    "missing Authorization: Bearer <key>",
                ))?;
        let key = header
            .to_str()
            .ok()
            .and_then(crate::auth::bearer)
            .ok_or(ApiError::Unauthorized("Authorization must be Bearer <key>"))?;
        state
            .rt
            .tenant_by_key(key)
            .cloned()
            .map(TenantAuth)
            .ok_or(ApiError::Unauthorized("unknown API key"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    offset: Option<u32>,
    #[serde(default)]
    after: Option<i64>,
}

fn page(q: Result<Query<Page>, QueryRejection>) -> Result<Page, ApiError> {
    let Query(p) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if p.limit == Some(0) || p.limit.is_some_and(|l| l > 500) {
        return Err(ApiError::BadRequest("limit must be 1-500".into()));
    }
    Ok(p)
}

fn conversation_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("conversation {raw:?} not found")))
}

/// `GET /api/v1/conversations`
pub async fn list_conversations(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = page(q)?;
    let list = state
        .rt
        .store
        .list_conversations(
            &tenant.config.id,
            p.limit.unwrap_or(50),
            p.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(
        json!({"tenant": tenant.config.id, "conversations": list}),
    ))
}

/// `GET /api/v1/conversations/{id}`: the conversation with its messages.
pub async fn get_conversation(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = page(q)?;
    let id = conversation_id(&id)?;
    let rt: &Runtime = &state.rt;
    let conv = rt
        .store
        .conversation(&tenant.config.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("conversation {id} not found")))?;
    let messages = rt
        .store
        .messages(
            &tenant.config.id,
            id,
            p.after.unwrap_or(0),
            p.limit.unwrap_or(500),
        )
        .await?;
    Ok(Json(json!({
        "conversation": {
            "id": conv.id,
            "channel": conv.channel,
            "contact": conv.contact,
            "referral": conv.referral,
            "handoff": conv.handoff,
            "opted_out": conv.opted_out,
            "tags": conv.tags,
            "state": conv.state,
            "created_at": conv.created_at,
            "last_inbound_at": conv.last_inbound_at,
        },
        "messages": messages,
    })))
}

/// `GET /api/v1/conversations/{id}/messages?after=SEQ&limit=N`
pub async fn list_messages(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = page(q)?;
    let id = conversation_id(&id)?;
    if state
        .rt
        .store
        .conversation(&tenant.config.id, id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("conversation {id} not found")));
    }
    let messages = state
        .rt
        .store
        .messages(
            &tenant.config.id,
            id,
            p.after.unwrap_or(0),
            p.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(json!({"messages": messages})))
}

/// `POST /api/v1/conversations/{id}/release`: an agent gives the conversation back
/// to the bot. Idempotent per handoff: releasing twice queues one event.
pub async fn release(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = conversation_id(&id)?;
    let rt = &state.rt;
    let conv = rt
        .store
        .conversation(&tenant.config.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("conversation {id} not found")))?;
    if !conv.handoff {
        return Ok((
            StatusCode::OK,
            Json(json!({"released": false, "reason": "the bot already has this conversation"})),
        ));
    }
    let turns = conv
        .state
        .get("turns")
        .and_then(|t| t.as_i64())
        .unwrap_or(0);
    let queued = rt
        .store
        .enqueue_event(
            &tenant.config.id,
            id,
            &json!({"kind": "agent_release"}),
            &format!("release:{turns}"),
            jiff::Timestamp::now(),
        )
        .await?;
    let _ = rt.hot.publish(&store::Notice::Inbox).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"released": true, "queued": queued})),
    ))
}

/// The body of an agent's message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentMessage {
    pub text: String,
    /// Makes a retried request send once; a random one is used when absent.
    #[serde(default)]
    pub id: Option<String>,
}

/// `POST /api/v1/conversations/{id}/messages`: a human agent writes to the customer.
/// Queued through the outbox like every message; the channel's window rules apply.
pub async fn agent_message(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    Path(id): Path<String>,
    body: Result<Json<AgentMessage>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = conversation_id(&id)?;
    let Json(msg) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let text = msg.text.trim();
    if text.is_empty() || text.chars().count() > 4096 {
        return Err(ApiError::BadRequest(
            "text must be 1-4096 characters".into(),
        ));
    }
    let key = match msg.id {
        Some(k) if !k.is_empty() && k.len() <= 100 => format!("agent:{k}"),
        Some(_) => return Err(ApiError::BadRequest("id must be 1-100 characters".into())),
        None => format!("agent:{}", uuid::Uuid::new_v4().simple()),
    };
    let rt = &state.rt;
    let out = store::NewOutgoing {
        sender: "agent".into(),
        content: channels::OutContent::text(text),
    };
    let (seq, new) = rt
        .store
        .append_outgoing(&tenant.config.id, id, &out, &key, jiff::Timestamp::now())
        .await
        .map_err(|e| match e {
            store::StoreError::NotFound => {
                ApiError::NotFound(format!("conversation {id} not found"))
            }
            other => ApiError::from(other),
        })?;
    if new {
        let _ = rt.hot.publish(&store::Notice::Outbox).await;
        crate::inbox::wake_conversation(rt, &tenant.config.id, id).await;
        first_human_response(rt, &tenant.config.id, id).await;
    }
    Ok((
        if new {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        },
        Json(json!({"seq": seq, "queued": new})),
    ))
}

/// Records the first human answer on the conversation's lead (it stops the SLA timer).
/// Best effort: the message is queued already and must not fail for this.
async fn first_human_response(rt: &Runtime, tenant: &str, conversation: i64) {
    let lead = match rt.store.lead_for_conversation(tenant, conversation).await {
        Ok(Some(lead)) if lead.first_response_at.is_none() => lead,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(%tenant, conversation, error = %e, "reading the lead of an agent's message failed");
            return;
        }
    };
    let ops = [
        store::LeadOp::HumanResponded,
        store::LeadOp::SlaDue { due: None },
    ];
    if let Err(e) = rt
        .store
        .update_lead(tenant, lead.id, &ops, "agent:api", jiff::Timestamp::now())
        .await
    {
        tracing::warn!(%tenant, conversation, lead = lead.id, error = %e, "recording the first human response failed");
    }
}
