//! The clinic pipeline (GR-3.9 with the appointment engine of GR-3.19): a price question
//! becomes a quote from the clinic's price list (asking only what the quote lacks), then
//! a free examination offered as three held slots, booked on a tap; plus reschedule and
//! cancel from chat, reminders, going-quiet follow-ups, no-show recovery and waitlist
//! offers. Anything else goes to the general flow, and a digression returns here.
//!
//! Rules that hold throughout:
//! - prices only in answer to the patient's own question; follow-ups never carry prices,
//!   discounts or campaigns (health promotion rules of 12.11.2025);
//! - a message outside the channel's window goes out only as the clinic's approved
//!   utility template, or not at all;
//! - the lead only moves forward here (new → quoted → appointment_booked); agents may
//!   move it anywhere through the admin API.

use crate::clinic::{
    self, Busy, Clinic, Currency, DayPart, Jaw, Preferences, Qualifier, Qualifiers, QuoteGap, Slot,
    SlotQuery, Teeth,
};
use crate::engine::{
    Action, AppointmentAction, Booking, ClinicCtx, ConversationState, Ctx, Event, LeadAction,
    SendWindow, Understanding,
};
use crate::general;
use crate::leads::{self, LeadSignals};
use crate::profile::Tone;
use channels::{Button, Content, OutContent};
use intents::entities::{self, Entities, ToothCount};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Timer keys this flow sets (the full key adds a suffix).
pub const TIMER_FOLLOW_UP: &str = "clinic:follow_up";
pub const TIMER_REMINDER: &str = "clinic:reminder";
/// Fired by the gateway when an agent marks an appointment as a no-show.
pub const TIMER_NO_SHOW: &str = "clinic:no_show";
/// Fired by the store when a freed slot is offered to this conversation's waitlist entry.
pub const TIMER_WAITLIST: &str = "waitlist:offer";
/// When the hold of a waitlist offer ends: an offer still unanswered is let go, so the
/// slot goes to the next patient in line (this one keeps their place).
pub const TIMER_WAITLIST_LAPSE: &str = "waitlist:lapse";

/// Button ids besides the slot ids of [`clinic::slot_id`].
pub const BUTTON_BOOK: &str = "clinic:book";
pub const BUTTON_PRICE: &str = "clinic:price";
pub const BUTTON_MORE: &str = "clinic:more";
pub const BUTTON_WAITLIST_JOIN: &str = "waitlist:join";
pub const BUTTON_WAITLIST_NO: &str = "waitlist:no";
pub const BUTTON_NO_THANKS: &str = "clinic:no";

/// Follow-ups after going quiet: a day, then three days after the quote.
const FOLLOW_UPS: [(u8, i64); 2] = [(1, 24), (2, 72)];
/// A reply this soon after the bot's message counts as a quick reply (lead score).
const QUICK_REPLY: SignedDuration = SignedDuration::from_mins(5);

/// The pipeline's memory between messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClinicState {
    /// What the patient told about the treatment they ask a price for.
    pub draft: Draft,
    /// The last quote given (upper end in TRY, for the lead's value).
    pub quoted_try: Option<i64>,
    /// The question the pipeline waits on.
    pub asked: Option<Ask>,
    /// Slots offered (and held) in the last offer, in button order.
    pub offered: Vec<Slot>,
    /// When they were offered (their holds lapse `hold_minutes` later).
    pub offered_at: Option<Timestamp>,
    /// The appointment being moved, while the patient picks its new time.
    pub moving: Option<i64>,
    /// An examination was booked in this conversation (and not cancelled).
    pub booked: bool,
    /// Follow-up timers are armed.
    pub follow_ups_armed: bool,
    /// When the bot last wrote (quick-reply signal).
    pub last_bot_at: Option<Timestamp>,
    /// The stage this flow last gave the lead.
    pub stage: Option<String>,
    /// The score last reported.
    pub score: Option<i32>,
    pub signals: LeadSignals,
    /// The patient's language (ISO 639-1) as last detected.
    pub lang: Option<String>,
}

/// The price question's facts, in whatever order they came.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    pub treatment: Option<String>,
    pub teeth: Option<Teeth>,
    pub jaw: Option<Jaw>,
    pub material: Option<String>,
}

/// A question the pipeline asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
pub enum Ask {
    Treatment,
    Qualifier {
        qualifier: Qualifier,
    },
    Slot,
    CancelConfirm {
        id: i64,
    },
    Waitlist {
        practitioner: Option<String>,
        part: Option<String>,
    },
}

/// Handles one event for a clinic tenant with clinic data.
pub fn handle(
    state: &ConversationState,
    event: &Event,
    ctx: &Ctx<'_>,
    cx: &ClinicCtx<'_>,
) -> (ConversationState, Vec<Action>) {
    if state.opted_out {
        return general::handle(state, event, ctx);
    }
    let mut p = Pipeline {
        ctx,
        cx,
        clinic: cx.clinic,
        tz: ctx.tenant.tz(),
        now: ctx.clock.now(),
        state: state.clone(),
        actions: Vec::new(),
    };
    match event {
        Event::Timer { key, payload } if is_ours(key) => {
            p.state.turns = p.state.turns.saturating_add(1);
            p.timer(key, payload);
        }
        Event::Message {
            content,
            understanding,
        } if !state.handoff => p.message(event, content, understanding.as_ref()),
        _ => {
            let (next, actions) = general::handle(state, event, ctx);
            p.state = next;
            p.actions = actions;
        }
    }
    p.finish()
}

fn is_ours(key: &str) -> bool {
    [
        TIMER_FOLLOW_UP,
        TIMER_REMINDER,
        TIMER_NO_SHOW,
        TIMER_WAITLIST,
        TIMER_WAITLIST_LAPSE,
    ]
    .iter()
    .any(|k| key.starts_with(k))
}

struct Pipeline<'a, 'c> {
    ctx: &'a Ctx<'c>,
    cx: &'a ClinicCtx<'c>,
    clinic: &'c Clinic,
    tz: TimeZone,
    now: Timestamp,
    state: ConversationState,
    actions: Vec<Action>,
}

/// What a confident understanding said, with its entities.
struct Heard<'u> {
    intent: Option<&'u str>,
    entities: &'u Entities,
    folded: String,
}

impl<'a, 'c> Pipeline<'a, 'c> {
    fn cs(&mut self) -> &mut ClinicState {
        &mut self.state.clinic
    }

    fn lang(&self) -> Lang {
        match self.state.clinic.lang.as_deref() {
            None | Some("tr") => Lang::Tr,
            Some(_) => Lang::En,
        }
    }

    fn today(&self) -> Date {
        self.now.to_zoned(self.tz.clone()).date()
    }

    fn tone(&self) -> Tone {
        self.ctx.tenant.tone
    }

    fn foreign(&self) -> bool {
        self.lang() == Lang::En || self.cx.customer_tz.is_some()
    }

    fn reply(&mut self, body: String) {
        self.actions.push(Action::reply(body));
    }

    fn buttons(&mut self, body: String, buttons: Vec<(String, String)>) {
        self.actions.push(Action::Reply {
            content: OutContent::Buttons {
                body,
                buttons: buttons
                    .into_iter()
                    .map(|(id, title)| Button { id, title })
                    .collect(),
            },
        });
    }

    fn tag(&mut self, tag: &str) {
        self.actions.push(Action::Tag {
            tag: tag.to_string(),
        });
    }

    fn lead(&mut self, action: LeadAction) {
        self.actions.push(Action::Lead(action));
    }

    /// Moves the lead to `stage` when that is forward of where this flow left it.
    fn stage(&mut self, stage: &str) {
        let stages: Vec<String> = leads::DEFAULT_STAGES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let from = self
            .state
            .clinic
            .stage
            .clone()
            .unwrap_or_else(|| "new".into());
        if leads::is_forward(&stages, &from, stage) {
            self.cs().stage = Some(stage.to_string());
            self.lead(LeadAction::Stage {
                stage: stage.to_string(),
                lost_reason: None,
            });
        }
    }

    fn finish(mut self) -> (ConversationState, Vec<Action>) {
        if self
            .actions
            .iter()
            .any(|a| matches!(a, Action::Reply { .. }))
        {
            self.cs().last_bot_at = Some(self.now);
        }
        let (score, reasons) = leads::score(&self.state.clinic.signals);
        if self.state.clinic.score != Some(score) && score > 0 {
            self.cs().score = Some(score);
            self.lead(LeadAction::Score { score, reasons });
        }
        (self.state, self.actions)
    }

    // ---- messages ----

    fn message(&mut self, event: &Event, content: &Content, u: Option<&Understanding>) {
        let threshold = self.ctx.tenant.confidence_threshold;
        let empty = Entities::default();
        let heard = Heard {
            intent: u
                .filter(|u| u.intent != "out_of_scope" && u.confidence >= threshold)
                .map(|u| u.intent.as_str()),
            entities: u.map(|u| u.entities.as_ref()).unwrap_or(&empty),
            folded: content
                .text()
                .map(intents::normalize::fold)
                .unwrap_or_default(),
        };
        let typed = matches!(content, Content::Text { .. });
        self.observe(u, heard.intent, typed.then_some(heard.folded.as_str()));
        let before = self.state.clone();
        if self.route(content, &heard) {
            self.state.turns = self.state.turns.saturating_add(1);
            self.state.unclear_streak = 0;
            self.state.pending = None;
            self.state.attachments_in_row = 0;
            return;
        }
        // Not the pipeline's: the general flow answers, then the pipeline's open
        // question is asked again so a digression does not lose the thread.
        let (next, actions) = general::handle(&self.state, event, self.ctx);
        let replied = actions.iter().any(|a| matches!(a, Action::Reply { .. }));
        self.state = next;
        self.actions.extend(actions);
        if self.state.opted_out && !before.opted_out {
            self.opted_out();
        } else if self.state.handoff {
            self.release_offer();
        } else if replied && self.state.unclear_streak == 0 {
            self.nudge();
        }
    }

    /// Signals for the lead score; the patient's language; a reply stops follow-ups.
    /// `typed` is the folded text of a typed message (a button's title is ours, not the
    /// patient's words, so it says nothing about their language).
    fn observe(&mut self, u: Option<&Understanding>, intent: Option<&str>, typed: Option<&str>) {
        let now = self.now;
        let cs = &mut self.state.clinic;
        cs.signals.inbound = cs.signals.inbound.saturating_add(1);
        if let Some(at) = cs.last_bot_at
            && at.duration_until(now) <= QUICK_REPLY
        {
            cs.signals.quick_replies = cs.signals.quick_replies.saturating_add(1);
        }
        if let Some(i) = intent
            && is_clinic_intent(i)
            && !cs.signals.intents.iter().any(|x| x == i)
        {
            cs.signals.intents.push(i.to_string());
        }
        // A language guess from "2" or "ok" is noise: only messages of a few words count.
        let words = typed.map_or(0, |t| {
            t.split_whitespace()
                .filter(|w| w.chars().all(char::is_alphabetic))
                .count()
        });
        if let Some(lang) = u.and_then(|u| u.language.as_deref())
            && words >= 3
        {
            cs.lang = Some(lang.to_string());
        }
        if cs.follow_ups_armed {
            cs.follow_ups_armed = false;
            for (n, _) in FOLLOW_UPS {
                self.actions.push(Action::Cancel {
                    key: format!("{TIMER_FOLLOW_UP}:{n}"),
                });
            }
        }
    }

    /// Whether the pipeline handled the message.
    fn route(&mut self, content: &Content, heard: &Heard<'_>) -> bool {
        if let Content::Interactive { id, .. } = content
            && self.button(id)
        {
            return true;
        }
        if self.answer(heard) {
            return true;
        }
        let e = heard.entities;
        let in_quote = self.state.clinic.draft.treatment.is_some();
        // A treatment named in a price question, in answer to "which treatment", or
        // while the quote is open (the patient switches treatment mid-way).
        if let Some(t) = e.treatment.first() {
            let t = t.value.as_str();
            let switch = self.state.clinic.draft.treatment.as_deref() != Some(t);
            let wants_price = heard.intent == Some("price_inquiry")
                || heard.intent.is_none()
                || in_quote
                || self.state.clinic.asked == Some(Ask::Treatment);
            let other = matches!(
                heard.intent,
                Some(
                    "appointment_book"
                        | "appointment_reschedule"
                        | "appointment_cancel"
                        | "emergency"
                        | "symptom_report"
                        | "aftercare_question"
                        | "treatment_info"
                )
            );
            if wants_price && !other && !heard.intent.is_some_and(overrides) {
                if switch {
                    self.cs().draft = Draft {
                        treatment: Some(t.to_string()),
                        ..Draft::default()
                    };
                }
                self.take_qualifiers(heard);
                self.advance();
                return true;
            }
        }
        // A correction ("pardon 3 diş") while a quote is being made or was given.
        if in_quote && !e.tooth_count.is_empty() && !heard.intent.is_some_and(overrides) {
            self.take_qualifiers(heard);
            self.advance();
            return true;
        }
        match heard.intent {
            Some("price_inquiry") => {
                self.take_qualifiers(heard);
                self.advance();
                true
            }
            Some("appointment_book") => {
                let prefs = self.preferences(heard);
                self.offer(prefs, Intro::Book);
                true
            }
            Some("appointment_reschedule") => {
                self.start_reschedule(heard);
                true
            }
            Some("appointment_cancel") => {
                self.ask_cancel();
                true
            }
            Some("emergency") => {
                self.tag("emergency");
                self.hand_off("emergency", texts::emergency(self.lang(), self.tone()));
                true
            }
            Some("symptom_report") => {
                self.tag("symptom_report");
                self.hand_off("symptom_report", texts::symptom(self.lang(), self.tone()));
                true
            }
            Some("aftercare_question") => {
                self.tag("aftercare_question");
                self.hand_off(
                    "aftercare_question",
                    texts::aftercare(self.lang(), self.tone()),
                );
                true
            }
            Some("insurance_inquiry") => {
                self.tag("insurance_question");
                self.reply(texts::insurance(self.lang(), self.tone()));
                true
            }
            Some("treatment_info") => {
                self.tag("treatment_info");
                let (lang, tone) = (self.lang(), self.tone());
                let name = e
                    .treatment
                    .first()
                    .and_then(|t| self.treatment_name(t.value.as_str()));
                self.buttons(
                    texts::treatment_info(lang, tone, name.as_deref()),
                    vec![
                        (BUTTON_PRICE.into(), texts::button_price(lang).into()),
                        (BUTTON_BOOK.into(), texts::button_exam(lang).into()),
                    ],
                );
                if let Some(t) = e.treatment.first() {
                    self.cs().draft = Draft {
                        treatment: Some(t.value.as_str().to_string()),
                        ..Draft::default()
                    };
                }
                true
            }
            Some("positive_feedback") => {
                self.reply(texts::positive(self.lang(), self.tone()));
                true
            }
            _ => false,
        }
    }

    /// A tap on one of this flow's buttons.
    fn button(&mut self, id: &str) -> bool {
        if let Some(r) = clinic::parse_slot_id(id) {
            match self.clinic.slot_from_ref(&r) {
                Some(slot) => self.book(slot),
                None => self.offer(Preferences::default(), Intro::Taken),
            }
            return true;
        }
        let appt = |prefix: &str| id.strip_prefix(prefix).and_then(|n| n.parse::<i64>().ok());
        if let Some(n) = appt("appt:confirm:") {
            self.confirm(n);
        } else if let Some(n) = appt("appt:cancel:") {
            self.cancel(n);
        } else if appt("appt:keep:").is_some() {
            self.cs().asked = None;
            self.reply(texts::kept(self.lang(), self.tone()));
        } else if let Some(n) = appt("appt:reschedule:") {
            self.reschedule(n, Preferences::default());
        } else if let Some(jaw) = id.strip_prefix("jaw:") {
            self.cs().draft.jaw = match jaw {
                "upper" => Some(Jaw::Upper),
                "lower" => Some(Jaw::Lower),
                _ => Some(Jaw::Both),
            };
            self.advance();
        } else if let Some(i) = id
            .strip_prefix("material:")
            .and_then(|i| i.parse::<usize>().ok())
        {
            let treatment = self
                .state
                .clinic
                .draft
                .treatment
                .clone()
                .unwrap_or_default();
            let material = self
                .clinic
                .materials(&treatment)
                .get(i)
                .map(|m| m.to_string());
            if material.is_some() {
                self.cs().draft.material = material;
            }
            self.advance();
        } else {
            match id {
                BUTTON_BOOK => self.offer(Preferences::default(), Intro::Book),
                BUTTON_PRICE => self.advance(),
                BUTTON_MORE => {
                    let prefs = self.later_than_offered();
                    self.offer(prefs, Intro::More)
                }
                BUTTON_WAITLIST_JOIN => self.join_waitlist(),
                BUTTON_WAITLIST_NO | BUTTON_NO_THANKS => self.declined(),
                _ => return false,
            }
        }
        true
    }

    /// An answer to the question the pipeline asked, typed rather than tapped.
    fn answer(&mut self, heard: &Heard<'_>) -> bool {
        let Some(asked) = self.state.clinic.asked.clone() else {
            return false;
        };
        let intent = heard.intent;
        match asked {
            Ask::CancelConfirm { id } => match intent {
                Some("affirm") => {
                    self.cancel(id);
                    true
                }
                Some("deny") => {
                    self.cs().asked = None;
                    self.reply(texts::kept(self.lang(), self.tone()));
                    true
                }
                _ => false,
            },
            Ask::Waitlist { .. } => match intent {
                Some("affirm") => {
                    self.join_waitlist();
                    true
                }
                Some("deny") => {
                    self.declined();
                    true
                }
                _ => false,
            },
            Ask::Slot => self.answer_slot(heard),
            Ask::Treatment => {
                if let Some(t) = self.treatment_in_words(&heard.folded) {
                    self.cs().draft = Draft {
                        treatment: Some(t),
                        ..Draft::default()
                    };
                    self.take_qualifiers(heard);
                    self.advance();
                    return true;
                }
                false
            }
            Ask::Qualifier { qualifier } => {
                let before = self.state.clinic.draft.clone();
                self.take_qualifiers(heard);
                self.take_choice(qualifier, &heard.folded);
                let draft = &self.state.clinic.draft;
                let got = match qualifier {
                    Qualifier::ToothCount => draft.teeth.is_some(),
                    Qualifier::Jaw => draft.jaw.is_some(),
                    Qualifier::Material => draft.material.is_some(),
                };
                if got || *draft != before {
                    self.advance();
                    return true;
                }
                false
            }
        }
    }

    /// A typed choice among offered slots ("2", "ilki", "10:00", "perşembe olan"), a
    /// wish for other times ("cuma öğleden sonra", "başka"), or a no.
    fn answer_slot(&mut self, heard: &Heard<'_>) -> bool {
        let offered = self.state.clinic.offered.clone();
        if let Some(i) = ordinal(&heard.folded, offered.len()) {
            self.book(offered[i].clone());
            return true;
        }
        let tz = self.tz.clone();
        let times: Vec<jiff::civil::Time> = heard
            .entities
            .time
            .iter()
            .filter_map(|t| t.value.time)
            .chain(heard.entities.date.iter().filter_map(|d| d.value.time))
            .collect();
        let dates: Vec<Date> = heard.entities.date.iter().map(|d| d.value.date).collect();
        let matching: Vec<&Slot> = offered
            .iter()
            .filter(|s| {
                let z = s.start.to_zoned(tz.clone());
                let t_ok = times.is_empty()
                    || times
                        .iter()
                        .any(|t| t.hour() == z.hour() && t.minute() == z.minute());
                let d_ok = dates.is_empty() || dates.contains(&z.date());
                t_ok && d_ok && !(times.is_empty() && dates.is_empty())
            })
            .collect();
        if matching.len() == 1 {
            let slot = matching[0].clone();
            self.book(slot);
            return true;
        }
        let wants_other = !times.is_empty()
            || !dates.is_empty()
            || !heard.entities.time.is_empty()
            || [
                "baska", "diger", "farkli", "daha gec", "sonraki", "ileri", "other", "later",
            ]
            .iter()
            .any(|w| heard.folded.contains(w));
        if wants_other {
            let mut prefs = self.preferences(heard);
            if times.is_empty() && dates.is_empty() && prefs.part.is_none() {
                prefs = self.later_than_offered();
            }
            self.offer(prefs, Intro::More);
            return true;
        }
        match heard.intent {
            Some("affirm") | Some("appointment_book") => {
                self.resend_offer();
                true
            }
            Some("deny") => {
                self.declined();
                true
            }
            _ => false,
        }
    }

    // ---- the quote ----

    /// Fills the draft from this message: tooth count, jaw, material, as written.
    fn take_qualifiers(&mut self, heard: &Heard<'_>) {
        let asked = self.state.clinic.asked.clone();
        if let Some(n) = heard.entities.tooth_count.first() {
            self.cs().draft.teeth = Some(match n.value {
                ToothCount::Count(n) => Teeth::Count(n),
                ToothCount::FullMouth => Teeth::FullMouth,
            });
        } else if asked
            == Some(Ask::Qualifier {
                qualifier: Qualifier::ToothCount,
            })
            && let Some(n) = bare_count(&heard.folded)
        {
            self.cs().draft.teeth = Some(Teeth::Count(n));
        }
        if let Some(j) = jaw_in(&heard.folded) {
            self.cs().draft.jaw = Some(j);
        }
        if let Some(t) = self.state.clinic.draft.treatment.clone()
            && let Some(m) = self.material_in(&t, &heard.folded)
        {
            self.cs().draft.material = Some(m);
        }
    }

    /// "1", "ikincisi": the choice among the options the question offered, in order.
    fn take_choice(&mut self, qualifier: Qualifier, folded: &str) {
        match qualifier {
            Qualifier::Material if self.state.clinic.draft.material.is_none() => {
                let treatment = self
                    .state
                    .clinic
                    .draft
                    .treatment
                    .clone()
                    .unwrap_or_default();
                let options = self.clinic.materials(&treatment);
                if let Some(i) = ordinal(folded, options.len()) {
                    self.cs().draft.material = Some(options[i].to_string());
                }
            }
            Qualifier::Jaw if self.state.clinic.draft.jaw.is_none() => {
                self.cs().draft.jaw =
                    ordinal(folded, 3).map(|i| [Jaw::Upper, Jaw::Lower, Jaw::Both][i]);
            }
            _ => {}
        }
    }

    /// Asks for what the quote lacks, or quotes and offers an examination.
    fn advance(&mut self) {
        let (lang, tone) = (self.lang(), self.tone());
        let Some(treatment) = self.state.clinic.draft.treatment.clone() else {
            self.cs().asked = Some(Ask::Treatment);
            let names = self.treatment_names();
            self.reply(texts::ask_treatment(lang, tone, &names));
            return;
        };
        let d = self.state.clinic.draft.clone();
        let q = Qualifiers {
            teeth: d.teeth,
            jaw: d.jaw,
            material: d.material.clone(),
        };
        let currency = if self.foreign() {
            Currency::Eur
        } else {
            Currency::Try
        };
        match self.clinic.quote(&treatment, &q, currency, self.today()) {
            Err(QuoteGap::UnknownTreatment) => {
                self.tag("price_question");
                self.cs().draft = Draft::default();
                self.cs().asked = None;
                let name = self.treatment_name(&treatment);
                self.reply(texts::no_price(lang, tone, name.as_deref()));
            }
            Err(QuoteGap::Missing(missing)) => {
                let Some(first) = missing.first().copied() else {
                    return;
                };
                self.cs().asked = Some(Ask::Qualifier { qualifier: first });
                let name = self
                    .treatment_name(&treatment)
                    .unwrap_or_else(|| treatment.clone());
                match first {
                    Qualifier::ToothCount => self.reply(texts::ask_teeth(lang, tone, &name)),
                    Qualifier::Jaw => self.buttons(
                        texts::ask_jaw(lang, tone, &name),
                        vec![
                            (
                                "jaw:upper".into(),
                                texts::jaw_title(lang, Jaw::Upper).into(),
                            ),
                            (
                                "jaw:lower".into(),
                                texts::jaw_title(lang, Jaw::Lower).into(),
                            ),
                            ("jaw:both".into(), texts::jaw_title(lang, Jaw::Both).into()),
                        ],
                    ),
                    Qualifier::Material => {
                        let materials: Vec<String> = self
                            .clinic
                            .materials(&treatment)
                            .into_iter()
                            .map(str::to_string)
                            .collect();
                        let body = texts::ask_material(lang, tone, &name, &materials);
                        if materials.len() <= 3 {
                            // By place: a material's name ("Kore (Osstem / Dentium)")
                            // is not a valid button id on every channel.
                            let buttons = materials
                                .iter()
                                .enumerate()
                                .map(|(i, m)| (format!("material:{i}"), short(m, 20)))
                                .collect();
                            self.buttons(body, buttons);
                        } else {
                            self.reply(body);
                        }
                    }
                }
            }
            Ok(quote) => {
                self.tag("price");
                let value_try = match quote.currency {
                    Currency::Try => Some(quote.max),
                    Currency::Eur => self
                        .clinic
                        .quote(&treatment, &q, Currency::Try, self.today())
                        .ok()
                        .map(|q| q.max),
                };
                self.reply(texts::quote(lang, &quote));
                self.cs().quoted_try = value_try;
                self.cs().signals.value_try = value_try;
                if !self
                    .state
                    .clinic
                    .signals
                    .intents
                    .iter()
                    .any(|i| i == "price_inquiry")
                {
                    self.cs().signals.intents.push("price_inquiry".into());
                }
                self.lead(LeadAction::Interest {
                    treatment: Some(treatment.clone()),
                    value_try,
                });
                self.stage("quoted");
                if !self.state.clinic.booked {
                    self.arm_follow_ups();
                    self.offer(Preferences::default(), Intro::Examination);
                } else {
                    self.cs().asked = None;
                }
            }
        }
    }

    fn arm_follow_ups(&mut self) {
        self.cs().follow_ups_armed = true;
        for (n, hours) in FOLLOW_UPS {
            let at = self.now + SignedDuration::from_hours(hours);
            self.actions.push(Action::Schedule {
                key: format!("{TIMER_FOLLOW_UP}:{n}"),
                at,
                payload: serde_json::json!({ "n": n }),
            });
        }
    }

    // ---- slots ----

    fn examination(&self) -> String {
        self.clinic
            .examination()
            .map(|s| s.id.clone())
            .unwrap_or_default()
    }

    fn preferences(&self, heard: &Heard<'_>) -> Preferences {
        let mut prefs = Preferences::default();
        let e = heard.entities;
        if let Some(d) = e.date.first() {
            prefs.date = Some(d.value.date);
            if let Some(t) = d.value.time {
                prefs.not_before = d
                    .value
                    .date
                    .to_datetime(t)
                    .to_zoned(self.tz.clone())
                    .ok()
                    .map(|z| z.timestamp());
            }
            prefs.part = d.value.part.map(day_part);
        }
        if let Some(t) = e.time.first() {
            if prefs.part.is_none() {
                prefs.part = t.value.part.map(day_part);
            }
            if let (Some(time), None) = (t.value.time, prefs.part) {
                prefs.part = Some(part_of(time));
            }
        }
        prefs.practitioner = self
            .clinic
            .practitioners
            .iter()
            .find(|p| {
                intents::normalize::fold(&p.name)
                    .split_whitespace()
                    .filter(|w| w.len() >= 3 && !["dis", "hekimi", "doktor"].contains(w))
                    .any(|w| heard.folded.split_whitespace().any(|x| x.starts_with(w)))
            })
            .map(|p| p.id.clone());
        prefs
    }

    fn later_than_offered(&self) -> Preferences {
        Preferences {
            not_before: self
                .state
                .clinic
                .offered
                .iter()
                .map(|s| s.start)
                .max()
                .map(|t| t + SignedDuration::from_mins(1)),
            ..Preferences::default()
        }
    }

    /// The calendar as this turn sees it: what the store says is taken, plus a slot it
    /// just refused (a race lost to another conversation).
    fn busy(&self) -> Vec<Busy> {
        let mut busy = self.cx.busy.to_vec();
        if let Some(s) = self.cx.rejected {
            busy.extend(blocks(s));
        }
        busy
    }

    /// Offers up to three examination slots as buttons, held for this conversation.
    fn offer(&mut self, prefs: Preferences, intro: Intro) {
        let (lang, tone) = (self.lang(), self.tone());
        let service = self.examination();
        let busy = self.busy();
        // Spread the three offers over days and day parts, unless the patient named
        // both: then the next three times of that morning are what they asked for.
        let spread = prefs.date.is_none() || prefs.part.is_none();
        let query = SlotQuery {
            service: &service,
            now: self.now,
            prefs: prefs.clone(),
            limit: 3,
            spread,
        };
        let slots = self
            .clinic
            .find_slots(&self.tz, &busy, &query)
            .unwrap_or_default();
        if !self.state.clinic.offered.is_empty() {
            self.actions
                .push(Action::Appointment(AppointmentAction::ReleaseHolds));
        }
        if slots.is_empty() {
            let part = prefs.part.map(|p| part_name(p).to_string());
            self.cs().offered.clear();
            self.cs().asked = Some(Ask::Waitlist {
                practitioner: prefs.practitioner.clone(),
                part,
            });
            self.buttons(
                texts::no_slots(lang, tone),
                vec![
                    (
                        BUTTON_WAITLIST_JOIN.into(),
                        texts::button_waitlist(lang).into(),
                    ),
                    (BUTTON_WAITLIST_NO.into(), texts::button_no(lang).into()),
                ],
            );
            return;
        }
        let until =
            self.now + SignedDuration::from_mins(i64::from(self.clinic.settings.hold_minutes));
        for s in &slots {
            self.actions
                .push(Action::Appointment(AppointmentAction::Hold {
                    slot: s.clone(),
                    until,
                }));
        }
        let lines: Vec<String> = slots
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}) {}", i + 1, self.describe_slot(s)))
            .collect();
        let buttons = slots
            .iter()
            .map(|s| (clinic::slot_id(s), self.slot_title(s)))
            .collect();
        let moving = self.state.clinic.moving.is_some();
        self.buttons(texts::offer(lang, tone, intro, moving, &lines), buttons);
        self.cs().offered = slots;
        self.cs().offered_at = Some(self.now);
        self.cs().asked = Some(Ask::Slot);
    }

    /// "Lütfen birini seçin" with the same slots again, while their holds last;
    /// after that, fresh ones (the old times may be gone or past).
    fn resend_offer(&mut self) {
        let offered = self.state.clinic.offered.clone();
        let hold = SignedDuration::from_mins(i64::from(self.clinic.settings.hold_minutes));
        let lapsed = self
            .state
            .clinic
            .offered_at
            .is_none_or(|at| at + hold <= self.now);
        if offered.is_empty() || lapsed {
            return self.offer(Preferences::default(), Intro::Book);
        }
        let lines: Vec<String> = offered
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}) {}", i + 1, self.describe_slot(s)))
            .collect();
        let buttons = offered
            .iter()
            .map(|s| (clinic::slot_id(s), self.slot_title(s)))
            .collect();
        let (lang, tone) = (self.lang(), self.tone());
        self.buttons(texts::pick_one(lang, tone, &lines), buttons);
    }

    fn book(&mut self, slot: Slot) {
        let (lang, tone) = (self.lang(), self.tone());
        let lost_race = self
            .cx
            .rejected
            .is_some_and(|r| r.start == slot.start && r.practitioner == slot.practitioner);
        let too_soon = slot.start
            < self.now
                + SignedDuration::from_mins(i64::from(self.clinic.settings.min_notice_minutes));
        // A tap names its slot in the button id, which a client can forge: only the
        // examination this flow offers, inside working time and free, can be booked.
        let bookable = slot.service == self.examination()
            && self.clinic.is_free(&self.tz, self.cx.busy, &slot);
        if lost_race || too_soon || !bookable {
            self.cs().offered.retain(|s| s.start != slot.start);
            return self.offer(Preferences::default(), Intro::Taken);
        }
        let when = self.describe_slot(&slot);
        let service = self
            .clinic
            .service(&slot.service)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| slot.service.clone());
        match self.state.clinic.moving.take() {
            Some(id) => {
                self.cancel_reminders_of(id);
                self.actions
                    .push(Action::Appointment(AppointmentAction::Reschedule {
                        id,
                        to: slot.clone(),
                    }));
                self.reply(texts::rescheduled(lang, tone, &when));
            }
            None => {
                self.actions
                    .push(Action::Appointment(AppointmentAction::Book {
                        slot: slot.clone(),
                    }));
                let address = self.ctx.tenant.address.trim().to_string();
                let reminders = self.reminders_due(&slot);
                self.reply(texts::booked(
                    lang, tone, &service, &when, &address, &reminders,
                ));
            }
        }
        self.schedule_reminders(&slot);
        self.cs().offered.clear();
        self.cs().asked = None;
        self.cs().booked = true;
        self.cs().signals.booked = true;
        self.stage("appointment_booked");
        if self.state.clinic.follow_ups_armed {
            self.cs().follow_ups_armed = false;
            for (n, _) in FOLLOW_UPS {
                self.actions.push(Action::Cancel {
                    key: format!("{TIMER_FOLLOW_UP}:{n}"),
                });
            }
        }
    }

    fn reminder_key(kind: &str, slot_start: Timestamp) -> String {
        format!("{TIMER_REMINDER}:{kind}:{}", slot_start.as_second())
    }

    /// The reminders still ahead for a visit: (kind, hours before).
    fn reminders_due(&self, slot: &Slot) -> Vec<(&'static str, i64)> {
        [("24h", 24), ("2h", 2)]
            .into_iter()
            .filter(|(_, hours)| slot.start - SignedDuration::from_hours(*hours) > self.now)
            .collect()
    }

    fn schedule_reminders(&mut self, slot: &Slot) {
        for (kind, hours) in self.reminders_due(slot) {
            let at = slot.start - SignedDuration::from_hours(hours);
            {
                self.actions.push(Action::Schedule {
                    key: Self::reminder_key(kind, slot.start),
                    at,
                    payload: serde_json::json!({
                        "kind": kind,
                        "start": slot.start,
                        "practitioner": slot.practitioner,
                    }),
                });
            }
        }
    }

    fn cancel_reminders_of(&mut self, id: i64) {
        if let Some(b) = self.cx.appointments.iter().find(|b| b.id == id) {
            let start = b.slot.start;
            for kind in ["24h", "2h"] {
                self.actions.push(Action::Cancel {
                    key: Self::reminder_key(kind, start),
                });
            }
        }
    }

    fn booking(&self, id: i64) -> Option<&'c Booking> {
        self.cx.appointments.iter().find(|b| b.id == id)
    }

    fn start_reschedule(&mut self, heard: &Heard<'_>) {
        let Some(first) = self.cx.appointments.first() else {
            let (lang, tone) = (self.lang(), self.tone());
            self.reply(texts::no_appointment(lang, tone));
            return self.offer(self.preferences(heard), Intro::Book);
        };
        let prefs = self.preferences(heard);
        self.reschedule(first.id, prefs);
    }

    fn reschedule(&mut self, id: i64, prefs: Preferences) {
        if self.booking(id).is_none() {
            let (lang, tone) = (self.lang(), self.tone());
            self.reply(texts::no_appointment(lang, tone));
            return;
        }
        self.cs().moving = Some(id);
        self.offer(prefs, Intro::Reschedule);
    }

    fn ask_cancel(&mut self) {
        let (lang, tone) = (self.lang(), self.tone());
        let Some(first) = self.cx.appointments.first() else {
            self.reply(texts::no_appointment(lang, tone));
            return;
        };
        let id = first.id;
        let when = self.describe_slot(&first.slot);
        self.cs().asked = Some(Ask::CancelConfirm { id });
        self.buttons(
            texts::confirm_cancel(lang, tone, &when),
            vec![
                (
                    format!("appt:cancel:{id}"),
                    texts::button_cancel(lang).into(),
                ),
                (
                    format!("appt:reschedule:{id}"),
                    texts::button_reschedule(lang).into(),
                ),
                (format!("appt:keep:{id}"), texts::button_keep(lang).into()),
            ],
        );
    }

    fn cancel(&mut self, id: i64) {
        let (lang, tone) = (self.lang(), self.tone());
        self.cs().asked = None;
        if self.booking(id).is_none() {
            self.reply(texts::no_appointment(lang, tone));
            return;
        }
        self.cancel_reminders_of(id);
        self.actions
            .push(Action::Appointment(AppointmentAction::Cancel { id }));
        self.cs().booked = self.cx.appointments.iter().any(|b| b.id != id);
        self.buttons(
            texts::cancelled(lang, tone),
            vec![(BUTTON_BOOK.into(), texts::button_new(lang).into())],
        );
    }

    fn confirm(&mut self, id: i64) {
        let (lang, tone) = (self.lang(), self.tone());
        match self.booking(id) {
            Some(b) => {
                let when = self.describe_slot(&b.slot);
                self.lead(LeadAction::Event {
                    kind: "appointment_confirmed".into(),
                    data: serde_json::json!({ "appointment": id }),
                });
                self.reply(texts::confirmed(lang, tone, &when));
            }
            None => self.reply(texts::no_appointment(lang, tone)),
        }
    }

    fn join_waitlist(&mut self) {
        let (lang, tone) = (self.lang(), self.tone());
        let (practitioner, part) = match self.state.clinic.asked.take() {
            Some(Ask::Waitlist { practitioner, part }) => (practitioner, part),
            _ => (None, None),
        };
        self.actions
            .push(Action::Appointment(AppointmentAction::JoinWaitlist {
                service: self.examination(),
                practitioner,
                part,
            }));
        self.tag("waitlist");
        self.reply(texts::waitlisted(lang, tone));
    }

    fn declined(&mut self) {
        let (lang, tone) = (self.lang(), self.tone());
        if !self.state.clinic.offered.is_empty() {
            self.actions
                .push(Action::Appointment(AppointmentAction::ReleaseHolds));
        }
        self.cs().offered.clear();
        self.cs().asked = None;
        self.cs().moving = None;
        self.reply(texts::declined(lang, tone));
    }

    fn hand_off(&mut self, reason: &str, text: String) {
        self.state.handoff = true;
        self.actions.push(Action::Handoff {
            reason: reason.to_string(),
        });
        self.reply(text);
        self.release_offer();
    }

    /// A human takes over: offered slots are let go (the agent books by hand).
    fn release_offer(&mut self) {
        if !self.state.clinic.offered.is_empty() {
            self.actions
                .push(Action::Appointment(AppointmentAction::ReleaseHolds));
            self.cs().offered.clear();
        }
        self.cs().asked = None;
        self.cs().moving = None;
    }

    /// The patient opted out: nothing more goes out, and a lead without a booking is lost.
    fn opted_out(&mut self) {
        self.release_offer();
        if self.state.clinic.follow_ups_armed {
            self.cs().follow_ups_armed = false;
            for (n, _) in FOLLOW_UPS {
                self.actions.push(Action::Cancel {
                    key: format!("{TIMER_FOLLOW_UP}:{n}"),
                });
            }
        }
        for b in self.cx.appointments {
            for kind in ["24h", "2h"] {
                self.actions.push(Action::Cancel {
                    key: Self::reminder_key(kind, b.slot.start),
                });
            }
        }
        if !self.state.clinic.booked {
            self.cs().stage = Some("lost".into());
            self.lead(LeadAction::Stage {
                stage: "lost".into(),
                lost_reason: Some("opted_out".into()),
            });
        }
    }

    /// After a digression, the pipeline's open question once more.
    fn nudge(&mut self) {
        let (lang, tone) = (self.lang(), self.tone());
        let asked = self.state.clinic.asked.clone();
        let name = self
            .state
            .clinic
            .draft
            .treatment
            .clone()
            .map(|t| self.treatment_name(&t).unwrap_or(t));
        match asked {
            Some(Ask::Treatment) => self.reply(texts::nudge_treatment(lang, tone)),
            Some(Ask::Qualifier { qualifier }) => self.reply(texts::nudge_qualifier(
                lang,
                tone,
                qualifier,
                name.as_deref(),
            )),
            Some(Ask::Slot) => self.resend_offer(),
            _ => {}
        }
    }

    // ---- timers ----

    fn timer(&mut self, key: &str, payload: &serde_json::Value) {
        if self.state.handoff && !key.starts_with(TIMER_REMINDER) {
            return;
        }
        if key.starts_with(TIMER_FOLLOW_UP) {
            self.follow_up(payload["n"].as_u64().unwrap_or(1) as u8);
        } else if key.starts_with(TIMER_REMINDER) {
            self.remind(payload);
        } else if key.starts_with(TIMER_NO_SHOW) {
            self.no_show();
        } else if key.starts_with(TIMER_WAITLIST_LAPSE) {
            self.waitlist_lapse(payload);
        } else if key.starts_with(TIMER_WAITLIST) {
            self.waitlist_offer(payload);
        }
    }

    /// A message the window may not allow: free-form when open, else the clinic's
    /// approved template with `params`, else nothing (tagged, so someone can call).
    fn timed(&mut self, content: OutContent, template: Option<&str>, params: Vec<String>) {
        match (self.ctx.window, template) {
            (SendWindow::Open, _) => self.actions.push(Action::Reply { content }),
            (SendWindow::Closed, Some(name)) => self.actions.push(Action::Reply {
                content: OutContent::Template {
                    name: name.to_string(),
                    language: "tr".into(),
                    params,
                },
            }),
            (SendWindow::Closed, None) => self.tag("outside_window"),
        }
    }

    fn follow_up(&mut self, n: u8) {
        // A reply, an opt-out or a booking disarms them (and cancels the timers).
        if self.state.clinic.booked || !self.state.clinic.follow_ups_armed {
            return;
        }
        if n >= 2 {
            self.cs().follow_ups_armed = false;
        }
        let (lang, tone) = (self.lang(), self.tone());
        // No price, discount or campaign here: the patient did not ask again.
        let content = OutContent::Buttons {
            body: texts::follow_up(lang, tone, n),
            buttons: vec![
                Button {
                    id: BUTTON_BOOK.into(),
                    title: texts::button_exam(lang).into(),
                },
                Button {
                    id: BUTTON_NO_THANKS.into(),
                    title: texts::button_no(lang).into(),
                },
            ],
        };
        let template = self.clinic.settings.follow_up_template.clone();
        let name = self.ctx.tenant.name.clone();
        self.timed(content, template.as_deref(), vec![name]);
        self.lead(LeadAction::Event {
            kind: "follow_up_sent".into(),
            data: serde_json::json!({ "n": n }),
        });
    }

    fn remind(&mut self, payload: &serde_json::Value) {
        let start: Option<Timestamp> = payload["start"].as_str().and_then(|s| s.parse().ok());
        let practitioner = payload["practitioner"].as_str().unwrap_or_default();
        let Some(b) = self
            .cx
            .appointments
            .iter()
            .find(|b| Some(b.slot.start) == start && b.slot.practitioner == practitioner)
        else {
            return; // moved or cancelled since: its reminder is void
        };
        let (lang, tone) = (self.lang(), self.tone());
        let when = self.describe_slot(&b.slot);
        let doctor = self.practitioner_name(&b.slot.practitioner);
        let soon = payload["kind"].as_str() == Some("2h");
        let id = b.id;
        let content = OutContent::Buttons {
            body: texts::reminder(lang, tone, &when, &doctor, soon),
            buttons: vec![
                Button {
                    id: format!("appt:confirm:{id}"),
                    title: texts::button_confirm(lang).into(),
                },
                Button {
                    id: format!("appt:cancel:{id}"),
                    title: texts::button_cancel(lang).into(),
                },
                Button {
                    id: format!("appt:reschedule:{id}"),
                    title: texts::button_reschedule(lang).into(),
                },
            ],
        };
        let template = self.clinic.settings.reminder_template.clone();
        self.timed(content, template.as_deref(), vec![when, doctor]);
    }

    fn no_show(&mut self) {
        let (lang, tone) = (self.lang(), self.tone());
        self.cs().booked = false;
        let content = OutContent::Buttons {
            body: texts::no_show(lang, tone),
            buttons: vec![
                Button {
                    id: BUTTON_BOOK.into(),
                    title: texts::button_new(lang).into(),
                },
                Button {
                    id: BUTTON_NO_THANKS.into(),
                    title: texts::button_no(lang).into(),
                },
            ],
        };
        let template = self.clinic.settings.follow_up_template.clone();
        let name = self.ctx.tenant.name.clone();
        self.timed(content, template.as_deref(), vec![name]);
    }

    fn waitlist_offer(&mut self, payload: &serde_json::Value) {
        let slot = match slot_from_payload(payload) {
            Some(s) => s,
            None => return,
        };
        let notice = SignedDuration::from_mins(i64::from(self.clinic.settings.min_notice_minutes));
        let gone =
            slot.start < self.now + notice || !self.clinic.is_free(&self.tz, self.cx.busy, &slot);
        let closed = self.ctx.window == SendWindow::Closed;
        if gone || closed {
            // Nothing is offered: the patient goes back in line, in the same place (the
            // store does that for an offer not taken). Not while other offers of theirs
            // are held, which that would let go; those end the same way.
            if self.state.clinic.offered.is_empty() {
                self.actions
                    .push(Action::Appointment(AppointmentAction::ReleaseHolds));
            }
            if closed {
                self.tag("outside_window");
            }
            return;
        }
        let (lang, tone) = (self.lang(), self.tone());
        let until =
            self.now + SignedDuration::from_mins(i64::from(self.clinic.settings.hold_minutes));
        self.actions
            .push(Action::Appointment(AppointmentAction::Hold {
                slot: slot.clone(),
                until,
            }));
        self.actions.push(Action::Schedule {
            key: TIMER_WAITLIST_LAPSE.into(),
            at: until,
            payload: serde_json::to_value(&slot).unwrap_or_default(),
        });
        let when = self.describe_slot(&slot);
        self.buttons(
            texts::waitlist_offer(lang, tone, &when),
            vec![
                (clinic::slot_id(&slot), texts::button_take(lang).into()),
                (BUTTON_NO_THANKS.into(), texts::button_no(lang).into()),
            ],
        );
        self.cs().offered = vec![slot];
        self.cs().offered_at = Some(self.now);
        self.cs().asked = Some(Ask::Slot);
    }

    /// The hold of a waitlist offer ended: if the patient has neither taken nor let go of
    /// that slot (it is still the one offered), it is let go now, silently.
    fn waitlist_lapse(&mut self, payload: &serde_json::Value) {
        let Ok(slot) = serde_json::from_value::<Slot>(payload.clone()) else {
            return;
        };
        let unanswered = self.state.clinic.offered == [slot]
            && matches!(self.state.clinic.asked, Some(Ask::Slot));
        if unanswered {
            self.actions
                .push(Action::Appointment(AppointmentAction::ReleaseHolds));
            self.cs().offered.clear();
            self.cs().asked = None;
        }
    }

    // ---- words ----

    fn treatment_name(&self, treatment: &str) -> Option<String> {
        self.clinic
            .price_rows(treatment)
            .first()
            .map(|r| r.name.clone())
    }

    fn treatment_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for t in self.clinic.treatments() {
            if let Some(n) = self.treatment_name(t)
                && !names.contains(&n)
            {
                names.push(n);
            }
        }
        names
    }

    /// A treatment named by the clinic's own words ("zirkonyum") when the entity
    /// extractor found none.
    fn treatment_in_words(&self, folded: &str) -> Option<String> {
        self.clinic.treatments().find_map(|t| {
            let name = intents::normalize::fold(&self.treatment_name(t)?);
            let first = name.split_whitespace().next()?;
            (first.len() >= 4 && folded.contains(first)).then(|| t.to_string())
        })
    }

    fn material_in(&self, treatment: &str, folded: &str) -> Option<String> {
        self.clinic
            .materials(treatment)
            .into_iter()
            .find(|m| {
                let fm = intents::normalize::fold(m);
                fm.split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() >= 3)
                    .any(|w| folded.split_whitespace().any(|x| x.starts_with(w)))
            })
            .map(str::to_string)
    }

    fn practitioner_name(&self, id: &str) -> String {
        self.clinic
            .practitioner(id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// "3 Aralık Perşembe 10:00 – Dt. Ayşe Yılmaz", with the patient's own time beside
    /// the clinic's for patients abroad.
    fn describe_slot(&self, slot: &Slot) -> String {
        let customer = self.cx.customer_tz.and_then(|n| TimeZone::get(n).ok());
        let when = match self.lang() {
            Lang::Tr => clinic::local_and_customer_time(slot.start, &self.tz, customer.as_ref()),
            Lang::En => texts::when_en(slot.start, &self.tz, customer.as_ref()),
        };
        format!("{when} – {}", self.practitioner_name(&slot.practitioner))
    }

    /// A button title (WhatsApp allows 20 characters): "Per 3 Ara 10:00".
    fn slot_title(&self, slot: &Slot) -> String {
        let z = slot.start.to_zoned(self.tz.clone());
        match self.lang() {
            Lang::Tr => format!(
                "{} {} {} {:02}:{:02}",
                &crate::tr::day_name(z.weekday())
                    .chars()
                    .take(3)
                    .collect::<String>(),
                z.day(),
                texts::MONTHS_SHORT[z.month() as usize - 1],
                z.hour(),
                z.minute()
            ),
            Lang::En => z.strftime("%a %-d %b %H:%M").to_string(),
        }
    }
}

/// How an offer of slots is introduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Intro {
    Examination,
    Book,
    More,
    Reschedule,
    Taken,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    Tr,
    En,
}

fn is_clinic_intent(intent: &str) -> bool {
    intents::catalog::CLINIC_INTENTS.contains(&intent)
}

/// General intents that win over anything the pipeline could read in the same message.
fn overrides(intent: &str) -> bool {
    ["opt_out", "human_handoff", "complaint"].contains(&intent)
}

/// What a slot blocks, as busy blocks for its practitioner and room.
fn blocks(s: &Slot) -> Vec<Busy> {
    let mut out = vec![Busy {
        resource: s.practitioner.clone(),
        from: s.blocks_from,
        until: s.blocks_until,
    }];
    if let Some(room) = &s.room {
        out.push(Busy {
            resource: room.clone(),
            from: s.blocks_from,
            until: s.blocks_until,
        });
    }
    out
}

fn slot_from_payload(p: &serde_json::Value) -> Option<Slot> {
    let t = |k: &str| p[k].as_str().and_then(|s| s.parse::<Timestamp>().ok());
    Some(Slot {
        service: p["service"].as_str()?.to_string(),
        practitioner: p["practitioner"].as_str()?.to_string(),
        room: p["room"].as_str().map(str::to_string),
        start: t("starts_at")?,
        end: t("ends_at")?,
        blocks_from: t("blocks_from")?,
        blocks_until: t("blocks_until")?,
    })
}

fn day_part(p: entities::DayPart) -> DayPart {
    match p {
        entities::DayPart::Morning => DayPart::Morning,
        entities::DayPart::Noon | entities::DayPart::Afternoon => DayPart::Afternoon,
        entities::DayPart::Evening | entities::DayPart::Night => DayPart::Evening,
    }
}

fn part_of(t: jiff::civil::Time) -> DayPart {
    match t.hour() {
        0..12 => DayPart::Morning,
        12..17 => DayPart::Afternoon,
        _ => DayPart::Evening,
    }
}

/// The part of the day a clinic-local time falls in, by the name the waitlist keeps
/// (`morning`, `afternoon`, `evening`): the store matches freed slots by the same rule
/// (`store::part_of_day`; a gateway test holds the two together).
pub fn part_of_day(t: jiff::civil::Time) -> &'static str {
    part_name(part_of(t))
}

fn part_name(p: DayPart) -> &'static str {
    match p {
        DayPart::Morning => "morning",
        DayPart::Afternoon => "afternoon",
        DayPart::Evening => "evening",
    }
}

/// "1", "2.", "ilki", "ikincisi", "sonuncusu", "first": a pick among `n` offered.
fn ordinal(folded: &str, n: usize) -> Option<usize> {
    let words: Vec<&str> = folded.split_whitespace().collect();
    if words.is_empty() || words.len() > 3 {
        return None;
    }
    let table: [(&[&str], usize); 3] = [
        (&["1", "ilk", "ilki", "birinci", "birincisi", "first"], 0),
        (&["2", "ikinci", "ikincisi", "second"], 1),
        (&["3", "ucuncu", "ucuncusu", "third"], 2),
    ];
    for w in &words {
        let w = w.trim_end_matches('.');
        for (names, i) in table {
            if names.contains(&w) && i < n {
                return Some(i);
            }
        }
        if ["son", "sonuncu", "sonuncusu", "last"].contains(&w) && n > 0 {
            return Some(n - 1);
        }
    }
    None
}

/// A count typed alone in answer to "how many teeth" ("2", "iki", "3 tane").
fn bare_count(folded: &str) -> Option<u32> {
    const WORDS: [&str; 10] = [
        "bir", "iki", "uc", "dort", "bes", "alti", "yedi", "sekiz", "dokuz", "on",
    ];
    folded.split_whitespace().find_map(|w| {
        w.parse::<u32>()
            .ok()
            .filter(|n| (1..=32).contains(n))
            .or_else(|| WORDS.iter().position(|x| *x == w).map(|i| i as u32 + 1))
    })
}

fn jaw_in(folded: &str) -> Option<Jaw> {
    let has = |w: &str| folded.split_whitespace().any(|x| x.starts_with(w));
    if has("iki") && has("cene") || has("her") || has("both") || has("tum") || has("ikisi") {
        Some(Jaw::Both)
    } else if has("ust") || has("upper") {
        Some(Jaw::Upper)
    } else if has("alt") || has("lower") {
        Some(Jaw::Lower)
    } else {
        None
    }
}

/// A button title within `max` characters: whole when it fits, else the part before a
/// parenthesis ("Kore (Osstem / Dentium)" → "Kore"), else cut at a word.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if let Some((head, _)) = s.split_once(" (")
        && !head.trim().is_empty()
        && head.chars().count() <= max
    {
        return head.trim().to_string();
    }
    let cut: String = s.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(i) if i > 0 => cut[..i].trim_end().to_string(),
        _ => cut,
    }
}

/// Every text of the pipeline, Turkish ("siz" or "sen") and English for patients
/// writing in another language.
pub(crate) mod texts {
    use super::{Intro, Lang};
    use crate::clinic::{Currency, Jaw, Qualifier, Quote, Unit, format_money};
    use crate::profile::Tone;
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    pub(crate) const MONTHS_SHORT: [&str; 12] = [
        "Oca", "Şub", "Mar", "Nis", "May", "Haz", "Tem", "Ağu", "Eyl", "Eki", "Kas", "Ara",
    ];

    fn t(lang: Lang, tone: Tone, siz: &str, sen: &str, en: &str) -> String {
        match (lang, tone) {
            (Lang::En, _) => en.to_string(),
            (Lang::Tr, Tone::Siz) => siz.to_string(),
            (Lang::Tr, Tone::Sen) => sen.to_string(),
        }
    }

    pub(crate) fn when_en(at: Timestamp, tz: &TimeZone, customer: Option<&TimeZone>) -> String {
        let z = at.to_zoned(tz.clone());
        let mut s = z.strftime("%A %-d %B %H:%M (Istanbul time)").to_string();
        if let Some(c) = customer {
            let theirs = at.to_zoned(c.clone());
            if theirs.offset() != z.offset() {
                s.push_str(&format!(", {} your time", theirs.strftime("%H:%M")));
            }
        }
        s
    }

    pub(crate) fn ask_treatment(lang: Lang, tone: Tone, names: &[String]) -> String {
        let list = names.join(", ");
        match lang {
            Lang::En => format!("Which treatment would you like a price for? For example: {list}."),
            Lang::Tr => format!(
                "{} Örneğin: {list}.",
                t(
                    lang,
                    tone,
                    "Hangi tedavi için fiyat bilgisi almak istersiniz?",
                    "Hangi tedavi için fiyat bilgisi almak istersin?",
                    ""
                )
            ),
        }
    }

    pub(crate) fn ask_teeth(lang: Lang, tone: Tone, name: &str) -> String {
        match (lang, tone) {
            (Lang::En, _) => format!("How many teeth is the {name} for?"),
            (Lang::Tr, Tone::Siz) => {
                format!("{name} için kaç diş düşünüyorsunuz? (Örneğin: 2 diş ya da tüm ağız)")
            }
            (Lang::Tr, Tone::Sen) => {
                format!("{name} için kaç diş düşünüyorsun? (Örneğin: 2 diş ya da tüm ağız)")
            }
        }
    }

    pub(crate) fn ask_jaw(lang: Lang, tone: Tone, name: &str) -> String {
        match (lang, tone) {
            (Lang::En, _) => format!("Is the {name} for the upper jaw, the lower jaw or both?"),
            (Lang::Tr, Tone::Siz) => format!("{name} üst çene, alt çene ya da her ikisi için mi?"),
            (Lang::Tr, Tone::Sen) => format!("{name} üst çene, alt çene ya da her ikisi için mi?"),
        }
    }

    pub(crate) fn jaw_title(lang: Lang, jaw: Jaw) -> &'static str {
        match (lang, jaw) {
            (Lang::Tr, Jaw::Upper) => "Üst çene",
            (Lang::Tr, Jaw::Lower) => "Alt çene",
            (Lang::Tr, Jaw::Both) => "Her ikisi",
            (Lang::En, Jaw::Upper) => "Upper jaw",
            (Lang::En, Jaw::Lower) => "Lower jaw",
            (Lang::En, Jaw::Both) => "Both",
        }
    }

    pub(crate) fn ask_material(lang: Lang, tone: Tone, name: &str, options: &[String]) -> String {
        let list = options.join(", ");
        match (lang, tone) {
            (Lang::En, _) => format!("Which option would you like for the {name}: {list}?"),
            (Lang::Tr, Tone::Siz) => {
                format!("{name} için hangi seçeneği düşünüyorsunuz: {list}?")
            }
            (Lang::Tr, Tone::Sen) => format!("{name} için hangi seçeneği düşünüyorsun: {list}?"),
        }
    }

    /// The quote: per unit and in total, the campaign if any, and the note that the
    /// exact price is set after the examination.
    pub(crate) fn quote(lang: Lang, q: &Quote) -> String {
        let range = |a: i64, b: i64| {
            if a == b {
                format_money(a, q.currency)
            } else {
                format!(
                    "{} – {}",
                    format_money(a, q.currency),
                    format_money(b, q.currency)
                )
            }
        };
        let name = match &q.material {
            Some(m) => format!("{} – {m}", q.name),
            None => q.name.clone(),
        };
        let units = match (lang, q.unit) {
            (Lang::Tr, Unit::Tooth) => "diş",
            (Lang::Tr, Unit::Jaw) => "çene",
            (Lang::Tr, Unit::Session) => "seans",
            (Lang::Tr, Unit::Treatment) => "tedavi",
            (Lang::En, Unit::Tooth) => "teeth",
            (Lang::En, Unit::Jaw) => "jaws",
            (Lang::En, Unit::Session) => "sessions",
            (Lang::En, Unit::Treatment) => "treatments",
        };
        let mut text = match lang {
            Lang::Tr => {
                if q.count > 1 {
                    format!(
                        "{name} için birim fiyatımız {}; {} {units} için toplam {}.",
                        range(q.per_unit_min, q.per_unit_max),
                        q.count,
                        range(q.min, q.max)
                    )
                } else {
                    format!("{name} için fiyatımız {}.", range(q.min, q.max))
                }
            }
            Lang::En => {
                if q.count > 1 {
                    format!(
                        "{name}: {} per unit; {} in total for {} {units}.",
                        range(q.per_unit_min, q.per_unit_max),
                        range(q.min, q.max),
                        q.count
                    )
                } else {
                    format!("{name}: {}.", range(q.min, q.max))
                }
            }
        };
        if let Some(c) = &q.campaign {
            text.push('\n');
            text.push_str(&match lang {
                Lang::Tr => format!("Şu an geçerli kampanya: %{} indirim.", c.percent),
                Lang::En => format!("Current offer: {}% off.", c.percent),
            });
        }
        if q.currency == Currency::Eur && lang == Lang::Tr {
            text.push_str(
                "\nFiyatlar yurt dışından gelen hastalarımız için euro olarak verilmiştir.",
            );
        }
        text.push('\n');
        text.push_str(match lang {
            Lang::Tr => "Kesin fiyat muayene sonrası belirlenir.",
            Lang::En => "The exact price is set after the examination.",
        });
        text
    }

    pub(crate) fn no_price(lang: Lang, tone: Tone, name: Option<&str>) -> String {
        let what = name.unwrap_or("Bu tedavi");
        match (lang, tone) {
            (Lang::En, _) => "We don't have a listed price for this treatment; a colleague will get back to you with the details.".into(),
            (Lang::Tr, Tone::Siz) => format!("{what} için fiyat listemizde bilgi yok; bir çalışma arkadaşımız size ayrıntılı bilgi verecek."),
            (Lang::Tr, Tone::Sen) => format!("{what} için fiyat listemizde bilgi yok; bir çalışma arkadaşımız sana ayrıntılı bilgi verecek."),
        }
    }

    pub(crate) fn offer(
        lang: Lang,
        tone: Tone,
        intro: Intro,
        moving: bool,
        lines: &[String],
    ) -> String {
        let head = match (intro, moving) {
            (_, true) => t(
                lang,
                tone,
                "Randevunuzu taşıyabileceğimiz uygun saatler:",
                "Randevunu taşıyabileceğimiz uygun saatler:",
                "Here are times we can move your appointment to:",
            ),
            (Intro::Examination, _) => t(
                lang,
                tone,
                "Ücretsiz muayene için size uygun bir saat seçebilirsiniz:",
                "Ücretsiz muayene için sana uygun bir saat seçebilirsin:",
                "You can book a free examination at one of these times:",
            ),
            (Intro::Taken, _) => t(
                lang,
                tone,
                "Üzgünüz, bu saat az önce doldu. Şu saatler uygun:",
                "Üzgünüz, bu saat az önce doldu. Şu saatler uygun:",
                "Sorry, that time was just taken. These times are free:",
            ),
            (Intro::More | Intro::Book | Intro::Reschedule, _) => t(
                lang,
                tone,
                "Uygun saatlerimiz:",
                "Uygun saatlerimiz:",
                "Our free times:",
            ),
        };
        let tail = t(
            lang,
            tone,
            "Başka bir gün ya da saat isterseniz yazmanız yeterli (ör. \"cuma öğleden sonra\").",
            "Başka bir gün ya da saat istersen yazman yeterli (ör. \"cuma öğleden sonra\").",
            "For another day or time, just write it (e.g. \"Friday afternoon\").",
        );
        format!("{head}\n{}\n{tail}", lines.join("\n"))
    }

    pub(crate) fn pick_one(lang: Lang, tone: Tone, lines: &[String]) -> String {
        let head = t(
            lang,
            tone,
            "Lütfen size uygun saati seçin:",
            "Lütfen sana uygun saati seç:",
            "Please pick the time that suits you:",
        );
        format!("{head}\n{}", lines.join("\n"))
    }

    pub(crate) fn no_slots(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Bu tercihe uygun boş bir saat bulamadım. Yer açılınca size haber vermemi ister misiniz?",
            "Bu tercihe uygun boş bir saat bulamadım. Yer açılınca sana haber vermemi ister misin?",
            "I couldn't find a free time for that. Shall I let you know when one opens up?",
        )
    }

    /// `reminders`: the (kind, hours before) reminders still ahead.
    pub(crate) fn booked(
        lang: Lang,
        tone: Tone,
        service: &str,
        when: &str,
        address: &str,
        reminders: &[(&str, i64)],
    ) -> String {
        let addr = if address.is_empty() {
            String::new()
        } else {
            match lang {
                Lang::Tr => format!("\nAdres: {address}"),
                Lang::En => format!("\nAddress: {address}"),
            }
        };
        let hours: Vec<String> = reminders.iter().map(|(_, h)| h.to_string()).collect();
        let tail = match (lang, tone, hours.len()) {
            (_, _, 0) => String::new(),
            (Lang::En, _, _) => format!("\nWe'll remind you {} hours before.", hours.join(" and ")),
            (Lang::Tr, Tone::Siz, _) => format!(
                "\nRandevunuzdan {} saat önce hatırlatma göndereceğiz.",
                hours.join(" saat ve ")
            ),
            (Lang::Tr, Tone::Sen, _) => format!(
                "\nRandevundan {} saat önce hatırlatma göndereceğiz.",
                hours.join(" saat ve ")
            ),
        };
        match (lang, tone) {
            (Lang::En, _) => {
                format!("Your appointment is booked ✅\n{service}: {when}{addr}{tail}")
            }
            (Lang::Tr, Tone::Siz) => {
                format!("Randevunuz oluşturuldu ✅\n{service}: {when}{addr}{tail}")
            }
            (Lang::Tr, Tone::Sen) => {
                format!("Randevun oluşturuldu ✅\n{service}: {when}{addr}{tail}")
            }
        }
    }

    pub(crate) fn rescheduled(lang: Lang, tone: Tone, when: &str) -> String {
        match (lang, tone) {
            (Lang::En, _) => format!("Your appointment is moved ✅ New time: {when}"),
            (Lang::Tr, Tone::Siz) => format!("Randevunuz taşındı ✅ Yeni zaman: {when}"),
            (Lang::Tr, Tone::Sen) => format!("Randevun taşındı ✅ Yeni zaman: {when}"),
        }
    }

    pub(crate) fn no_appointment(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Bu sohbette adınıza kayıtlı yaklaşan bir randevu göremedim.",
            "Bu sohbette adına kayıtlı yaklaşan bir randevu göremedim.",
            "I can't see an upcoming appointment for you in this chat.",
        )
    }

    pub(crate) fn confirm_cancel(lang: Lang, tone: Tone, when: &str) -> String {
        match (lang, tone) {
            (Lang::En, _) => format!("Do you want to cancel your appointment on {when}?"),
            (Lang::Tr, Tone::Siz) => {
                format!("{when} randevunuzu iptal etmek istediğinize emin misiniz?")
            }
            (Lang::Tr, Tone::Sen) => format!("{when} randevunu iptal etmek istediğine emin misin?"),
        }
    }

    pub(crate) fn cancelled(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Randevunuz iptal edildi. Yeni bir randevu isterseniz buradan yazabilirsiniz.",
            "Randevun iptal edildi. Yeni bir randevu istersen buradan yazabilirsin.",
            "Your appointment is cancelled. Write here any time for a new one.",
        )
    }

    pub(crate) fn kept(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Tamam, randevunuz olduğu gibi duruyor.",
            "Tamam, randevun olduğu gibi duruyor.",
            "OK, your appointment stays as it is.",
        )
    }

    pub(crate) fn confirmed(lang: Lang, tone: Tone, when: &str) -> String {
        match (lang, tone) {
            (Lang::En, _) => format!("Thank you, see you on {when}!"),
            (Lang::Tr, Tone::Siz) => format!("Teşekkürler, {when} randevunuzda görüşmek üzere!"),
            (Lang::Tr, Tone::Sen) => format!("Teşekkürler, {when} randevunda görüşmek üzere!"),
        }
    }

    pub(crate) fn reminder(lang: Lang, tone: Tone, when: &str, doctor: &str, soon: bool) -> String {
        let _ = doctor;
        match (lang, tone, soon) {
            (Lang::En, _, false) => {
                format!("Reminder: your appointment is tomorrow, {when}. Can you make it?")
            }
            (Lang::En, _, true) => format!("Reminder: your appointment is in 2 hours, {when}."),
            (Lang::Tr, Tone::Siz, false) => {
                format!("Hatırlatma: yarın {when} randevunuz var. Gelebilecek misiniz?")
            }
            (Lang::Tr, Tone::Sen, false) => {
                format!("Hatırlatma: yarın {when} randevun var. Gelebilecek misin?")
            }
            (Lang::Tr, Tone::Siz, true) => {
                format!("Hatırlatma: randevunuza 2 saat kaldı ({when}).")
            }
            (Lang::Tr, Tone::Sen, true) => format!("Hatırlatma: randevuna 2 saat kaldı ({when})."),
        }
    }

    /// Going quiet: an offer of help, never a price, a discount or a campaign.
    pub(crate) fn follow_up(lang: Lang, tone: Tone, n: u8) -> String {
        match n {
            1 => t(
                lang,
                tone,
                "Merhaba, sorduğunuz tedaviyle ilgili aklınıza takılan bir şey olursa yardımcı olmaktan memnuniyet duyarız. Ücretsiz muayene için uygun bir gün belirlemek ister misiniz?",
                "Merhaba, sorduğun tedaviyle ilgili aklına takılan bir şey olursa yardımcı olmaktan memnuniyet duyarız. Ücretsiz muayene için uygun bir gün belirlemek ister misin?",
                "Hello, if you have any questions about the treatment you asked about, we're happy to help. Would you like to pick a day for a free examination?",
            ),
            _ => t(
                lang,
                tone,
                "Merhaba, size yardımcı olabileceğimiz bir konu olursa buradayız. Muayene için uygun olduğunuzda buradan randevu alabilirsiniz.",
                "Merhaba, sana yardımcı olabileceğimiz bir konu olursa buradayız. Muayene için uygun olduğunda buradan randevu alabilirsin.",
                "Hello, we're here if we can help. Whenever it suits you, you can book an examination here.",
            ),
        }
    }

    pub(crate) fn no_show(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Bugünkü randevunuzda sizi göremedik, umarız her şey yolundadır. Yeni bir randevu oluşturmak ister misiniz?",
            "Bugünkü randevunda seni göremedik, umarız her şey yolundadır. Yeni bir randevu oluşturmak ister misin?",
            "We missed you at today's appointment; we hope all is well. Would you like a new appointment?",
        )
    }

    pub(crate) fn waitlisted(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Sizi bekleme listesine aldık; uygun bir yer açılınca buradan haber vereceğiz.",
            "Seni bekleme listesine aldık; uygun bir yer açılınca buradan haber vereceğiz.",
            "You're on the waiting list; we'll message you here when a time opens up.",
        )
    }

    pub(crate) fn waitlist_offer(lang: Lang, tone: Tone, when: &str) -> String {
        match (lang, tone) {
            (Lang::En, _) => format!("Good news: a time opened up — {when}. Would you like it?"),
            (Lang::Tr, Tone::Siz) => format!(
                "Beklediğiniz için teşekkürler! {when} için yer açıldı. Almak ister misiniz?"
            ),
            (Lang::Tr, Tone::Sen) => {
                format!("Beklediğin için teşekkürler! {when} için yer açıldı. Almak ister misin?")
            }
        }
    }

    pub(crate) fn declined(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Peki! Randevu almak istediğinizde buradan yazmanız yeterli.",
            "Peki! Randevu almak istediğinde buradan yazman yeterli.",
            "All right! Just write here whenever you'd like an appointment.",
        )
    }

    pub(crate) fn emergency(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Geçmiş olsun. Durumunuzu hemen hekimimize iletiyorum; sizi en kısa sürede arayacağız. Nefes almakta güçlük, yüzde hızla artan şişlik ya da durmayan kanama varsa lütfen 112'yi arayın.",
            "Geçmiş olsun. Durumunu hemen hekimimize iletiyorum; seni en kısa sürede arayacağız. Nefes almakta güçlük, yüzde hızla artan şişlik ya da durmayan kanama varsa lütfen 112'yi ara.",
            "We're sorry to hear that. I'm passing this to our dentist right away and we'll call you as soon as possible. If you have trouble breathing, fast-growing swelling or bleeding that won't stop, call the emergency number 112.",
        )
    }

    pub(crate) fn symptom(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Geçmiş olsun. Yazdıklarınızı hekimimize iletiyorum; en kısa sürede size dönüş yapılacak.",
            "Geçmiş olsun. Yazdıklarını hekimimize iletiyorum; en kısa sürede sana dönüş yapılacak.",
            "Sorry to hear that. I'm passing this to our dentist; we'll get back to you shortly.",
        )
    }

    pub(crate) fn aftercare(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Tedavi sonrası sorunuzu hekimimize iletiyorum; en kısa sürede size dönüş yapılacak.",
            "Tedavi sonrası sorunu hekimimize iletiyorum; en kısa sürede sana dönüş yapılacak.",
            "I'm passing your aftercare question to our dentist; we'll get back to you shortly.",
        )
    }

    pub(crate) fn insurance(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Sigorta ve SGK anlaşmalarımızla ilgili bilgiyi bir çalışma arkadaşımız size iletecek.",
            "Sigorta ve SGK anlaşmalarımızla ilgili bilgiyi bir çalışma arkadaşımız sana iletecek.",
            "A colleague will send you the details about insurance coverage.",
        )
    }

    pub(crate) fn treatment_info(lang: Lang, tone: Tone, name: Option<&str>) -> String {
        match (lang, tone, name) {
            (Lang::En, _, _) => "Our dentist gives the most accurate answer for your case at the examination, which is free. Would you like a price or an examination?".into(),
            (Lang::Tr, Tone::Siz, Some(n)) => format!("{n} hakkında sizin durumunuza en doğru yanıtı hekimimiz ücretsiz muayenede verir. Fiyat bilgisi mi almak istersiniz, muayene randevusu mu?"),
            (Lang::Tr, Tone::Sen, Some(n)) => format!("{n} hakkında senin durumuna en doğru yanıtı hekimimiz ücretsiz muayenede verir. Fiyat bilgisi mi almak istersin, muayene randevusu mu?"),
            (Lang::Tr, Tone::Siz, None) => "Sizin durumunuza en doğru yanıtı hekimimiz ücretsiz muayenede verir. Fiyat bilgisi mi almak istersiniz, muayene randevusu mu?".into(),
            (Lang::Tr, Tone::Sen, None) => "Senin durumuna en doğru yanıtı hekimimiz ücretsiz muayenede verir. Fiyat bilgisi mi almak istersin, muayene randevusu mu?".into(),
        }
    }

    pub(crate) fn positive(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Güzel sözleriniz için çok teşekkür ederiz, ekibimizle paylaşacağız!",
            "Güzel sözlerin için çok teşekkür ederiz, ekibimizle paylaşacağız!",
            "Thank you so much for your kind words, we'll share them with the team!",
        )
    }

    pub(crate) fn nudge_treatment(lang: Lang, tone: Tone) -> String {
        t(
            lang,
            tone,
            "Fiyat bilgisi için hangi tedaviyi düşündüğünüzü yazabilirsiniz.",
            "Fiyat bilgisi için hangi tedaviyi düşündüğünü yazabilirsin.",
            "For a price, just tell me which treatment you have in mind.",
        )
    }

    pub(crate) fn nudge_qualifier(
        lang: Lang,
        tone: Tone,
        q: Qualifier,
        name: Option<&str>,
    ) -> String {
        let name = name.unwrap_or("Tedavi");
        match (lang, q) {
            (Lang::En, Qualifier::ToothCount) => {
                format!("Back to your price question: how many teeth is the {name} for?")
            }
            (Lang::En, Qualifier::Jaw) => {
                format!("Back to your price question: upper jaw, lower jaw or both for the {name}?")
            }
            (Lang::En, Qualifier::Material) => {
                format!("Back to your price question: which option would you like for the {name}?")
            }
            (Lang::Tr, Qualifier::ToothCount) => match tone {
                Tone::Siz => {
                    format!("Fiyat sorunuza dönersek: {name} için kaç diş düşünüyorsunuz?")
                }
                Tone::Sen => format!("Fiyat sorunuza dönersek: {name} için kaç diş düşünüyorsun?"),
            },
            (Lang::Tr, Qualifier::Jaw) => format!(
                "Fiyat sorusuna dönersek: {name} üst çene, alt çene ya da her ikisi için mi?"
            ),
            (Lang::Tr, Qualifier::Material) => match tone {
                Tone::Siz => {
                    format!("Fiyat sorunuza dönersek: {name} için hangi seçeneği düşünüyorsunuz?")
                }
                Tone::Sen => {
                    format!("Fiyat sorunuza dönersek: {name} için hangi seçeneği düşünüyorsun?")
                }
            },
        }
    }

    pub(crate) fn button_price(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Fiyat bilgisi"
        } else {
            "Price"
        }
    }
    pub(crate) fn button_exam(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Muayene randevusu"
        } else {
            "Book examination"
        }
    }
    pub(crate) fn button_new(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Yeni randevu al"
        } else {
            "New appointment"
        }
    }
    pub(crate) fn button_no(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Hayır, teşekkürler"
        } else {
            "No, thanks"
        }
    }
    pub(crate) fn button_waitlist(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Evet, haber ver"
        } else {
            "Yes, let me know"
        }
    }
    pub(crate) fn button_take(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Bu saati al"
        } else {
            "Book this time"
        }
    }
    pub(crate) fn button_confirm(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Geleceğim"
        } else {
            "I'll be there"
        }
    }
    pub(crate) fn button_cancel(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "İptal et"
        } else {
            "Cancel"
        }
    }
    pub(crate) fn button_reschedule(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Saati değiştir"
        } else {
            "Change time"
        }
    }
    pub(crate) fn button_keep(lang: Lang) -> &'static str {
        if lang == Lang::Tr {
            "Vazgeç"
        } else {
            "Keep it"
        }
    }
}
