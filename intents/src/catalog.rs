//! One-line descriptions of the shipped intents (`spec/intents.md`), for the
//! LLM classifier's prompt (the closed list it chooses from) and for people
//! reading logs or reports.
//!
//! ```
//! assert_eq!(intents::catalog::describe("opt_out"), Some("stop receiving messages from the business"));
//! assert_eq!(intents::catalog::describe("my_custom_intent"), None);
//! ```

/// The general intents every tenant has (`spec/intents.md`).
pub const GENERAL_INTENTS: &[&str] = &[
    "greeting",
    "thanks",
    "goodbye",
    "affirm",
    "deny",
    "human_handoff",
    "opt_out",
    "complaint",
    "business_hours",
    "location",
    "payment_options",
    "out_of_scope",
];

/// The intents the commerce niche adds to the general ones (`spec/intents.md`).
pub const COMMERCE_INTENTS: &[&str] = &[
    "order_status",
    "cargo_tracking",
    "return_request",
    "exchange_request",
    "cancel_order",
    "refund_status",
    "damaged_or_wrong_item",
    "stock_inquiry",
    "size_advice",
    "discount_inquiry",
    "invoice_request",
    "wholesale_inquiry",
    "price_inquiry",
];

/// The intents every clinic niche (dental, aesthetic, health) adds to the general ones.
pub const CLINIC_INTENTS: &[&str] = &[
    "price_inquiry",
    "treatment_info",
    "appointment_book",
    "appointment_reschedule",
    "appointment_cancel",
    "emergency",
    "insurance_inquiry",
    "symptom_report",
    "aftercare_question",
    "positive_feedback",
];

/// The medical-tourism intents the health niche adds besides the clinic ones.
pub const TOURISM_INTENTS: &[&str] = &["travel_package", "travel_logistics"];

/// The intents `niche` adds to the general ones; empty for an unknown niche.
pub fn niche_intents(niche: &str) -> Vec<&'static str> {
    match niche {
        "ecommerce" => COMMERCE_INTENTS.to_vec(),
        "dental" | "aesthetic" => CLINIC_INTENTS.to_vec(),
        "health" => CLINIC_INTENTS
            .iter()
            .chain(TOURISM_INTENTS)
            .copied()
            .collect(),
        _ => Vec::new(),
    }
}

/// `(intent, description)` for every intent of the taxonomy, general intents
/// first, then commerce, clinic and medical tourism.
pub const INTENTS: &[(&str, &str)] = &[
    // General (every niche).
    ("greeting", "says hello, with nothing else to ask"),
    ("thanks", "thanks the business"),
    ("goodbye", "ends the conversation"),
    ("affirm", "says yes / agrees / confirms"),
    ("deny", "says no / declines / refuses"),
    (
        "human_handoff",
        "wants to talk to a person (a human agent, live support)",
    ),
    ("opt_out", "stop receiving messages from the business"),
    (
        "complaint",
        "complains about the service, the staff or the experience",
    ),
    (
        "business_hours",
        "asks when the business is open (opening hours, days)",
    ),
    (
        "location",
        "asks for the address, directions, parking or how to get there",
    ),
    (
        "payment_options",
        "asks how to pay: card, installments, bank transfer, cash on delivery",
    ),
    (
        "out_of_scope",
        "anything else: off-topic, unclear, or not about this business",
    ),
    // Commerce (ecommerce).
    (
        "order_status",
        "asks about the state of an order (confirmed, prepared, shipped?)",
    ),
    (
        "cargo_tracking",
        "asks where the parcel is or for its tracking number",
    ),
    ("return_request", "wants to return a product"),
    (
        "exchange_request",
        "wants to exchange a product for another size, colour or model",
    ),
    ("cancel_order", "wants to cancel an order"),
    (
        "refund_status",
        "asks when the money of a return or cancellation comes back",
    ),
    (
        "damaged_or_wrong_item",
        "reports a damaged, missing or wrong item received",
    ),
    (
        "stock_inquiry",
        "asks whether a product, size or colour is available or when it is back in stock",
    ),
    ("size_advice", "asks which size fits them"),
    (
        "discount_inquiry",
        "asks about coupons, discounts or campaigns",
    ),
    ("invoice_request", "wants an invoice or a change to one"),
    (
        "wholesale_inquiry",
        "wants to buy wholesale or become a dealer (business to business)",
    ),
    // Clinic (dental, aesthetic, health); price_inquiry also in commerce.
    (
        "price_inquiry",
        "asks what something costs (a treatment, or a product in a shop)",
    ),
    (
        "treatment_info",
        "asks how a treatment works: duration, sessions, pain, materials, results",
    ),
    ("appointment_book", "wants to book a visit or consultation"),
    (
        "appointment_reschedule",
        "wants to move an existing appointment to another time",
    ),
    (
        "appointment_cancel",
        "wants to cancel an existing appointment",
    ),
    (
        "emergency",
        "needs urgent help now: severe pain, swelling, heavy bleeding, an accident",
    ),
    (
        "insurance_inquiry",
        "asks about insurance or SGK (state insurance) coverage",
    ),
    (
        "symptom_report",
        "reports a symptom or problem after a treatment (not urgent)",
    ),
    (
        "aftercare_question",
        "asks what to do or avoid after a treatment (eating, washing, sport, medication)",
    ),
    ("positive_feedback", "praises the business or the result"),
    // Medical tourism (health).
    (
        "travel_package",
        "asks what a treatment-and-travel package includes or costs (hotel, flights)",
    ),
    (
        "travel_logistics",
        "asks about the trip: airport transfer, length of stay, visa, accommodation",
    ),
];

/// The one-line description of a shipped intent; `None` for an intent the
/// taxonomy does not have (a tenant's own intent).
pub fn describe(intent: &str) -> Option<&'static str> {
    INTENTS
        .iter()
        .find(|(name, _)| *name == intent)
        .map(|(_, description)| *description)
}

/// [`describe`], or for an unknown intent its name with `_` as spaces
/// (`gift_wrapping` → "gift wrapping"), so a tenant's own intent can still
/// be offered to the LLM.
pub fn describe_or_name(intent: &str) -> std::borrow::Cow<'static, str> {
    match describe(intent) {
        Some(d) => d.into(),
        None => intent.replace('_', " ").into(),
    }
}
