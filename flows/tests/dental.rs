//! The clinic pipeline, pure: the demo clinic's data, entities read by the real
//! extractors, intents given as the NLU would, a manual clock. What a patient would see
//! (texts, buttons) and what the gateway would store (holds, bookings, lead moves).

use crate::istanbul;
use channels::{Content, OutContent};
use flows::Clock;
use flows::clinic::{Busy, Clinic, Slot, parse_slot_id};
use flows::{
    Action, AppointmentAction, Booking, ClinicCtx, ConversationState, Ctx, Event, LeadAction,
    ManualClock, Niche, SendWindow, TenantProfile, Understanding,
};

fn demo_clinic() -> Clinic {
    Clinic::parse(
        include_str!("../../gateway/demo/dental/clinic.toml"),
        include_str!("../../gateway/demo/dental/prices.csv"),
    )
    .expect("demo clinic")
}

/// A dental tenant at a fixed time with a calendar the test controls.
struct Bench {
    profile: TenantProfile,
    clock: ManualClock,
    clinic: Clinic,
    busy: Vec<Busy>,
    bookings: Vec<Booking>,
    rejected: Option<Slot>,
    customer_tz: Option<&'static str>,
    window: SendWindow,
}

impl Bench {
    /// Tuesday 1 December 2026, 10:00 in Istanbul.
    fn new() -> Bench {
        let mut profile = TenantProfile::new_test();
        profile.niche = Niche::Dental;
        profile.name = "Demo Diş Kliniği".into();
        Bench {
            profile,
            clock: ManualClock::new(istanbul("2026-12-01T10:00")),
            clinic: demo_clinic(),
            busy: Vec::new(),
            bookings: Vec::new(),
            rejected: None,
            customer_tz: None,
            window: SendWindow::Open,
        }
    }

    fn run(&self, state: &ConversationState, event: &Event) -> (ConversationState, Vec<Action>) {
        let mut ctx = Ctx::new(&self.profile, &self.clock);
        ctx.window = self.window;
        ctx.clinic = Some(ClinicCtx {
            clinic: &self.clinic,
            busy: &self.busy,
            appointments: &self.bookings,
            rejected: self.rejected.as_ref(),
            customer_tz: self.customer_tz,
        });
        flows::handle(state, event, &ctx)
    }

    /// The patient writes `text`; the NLU said `intent` (None: not confident).
    fn say(&self, state: &ConversationState, text: &str, intent: Option<&str>) -> Turn {
        self.say_in(state, text, intent, "tr")
    }

    fn say_in(
        &self,
        state: &ConversationState,
        text: &str,
        intent: Option<&str>,
        lang: &str,
    ) -> Turn {
        let ectx = intents::entities::Context::new("dental", "Europe/Istanbul", self.clock.now());
        let event = Event::Message {
            content: Content::Text { body: text.into() },
            understanding: Some(Understanding {
                intent: intent.unwrap_or("out_of_scope").into(),
                confidence: if intent.is_some() { 0.9 } else { 0.2 },
                language: Some(lang.into()),
                entities: Box::new(intents::entities::extract(text, &ectx)),
            }),
        };
        Turn::from(self.run(state, &event))
    }

    fn tap(&self, state: &ConversationState, id: &str, title: &str) -> Turn {
        let event = Event::Message {
            content: Content::Interactive {
                id: id.into(),
                title: title.into(),
            },
            understanding: None,
        };
        Turn::from(self.run(state, &event))
    }

    fn timer(&self, state: &ConversationState, key: &str, payload: serde_json::Value) -> Turn {
        Turn::from(self.run(
            state,
            &Event::Timer {
                key: key.into(),
                payload,
            },
        ))
    }
}

/// One turn's result, with readers for what tests look at.
struct Turn {
    state: ConversationState,
    actions: Vec<Action>,
}

impl From<(ConversationState, Vec<Action>)> for Turn {
    fn from((state, actions): (ConversationState, Vec<Action>)) -> Self {
        Turn { state, actions }
    }
}

impl Turn {
    /// Every reply's text (and template names), joined by newlines.
    fn text(&self) -> String {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply { content } => Some(content.body().to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The buttons of the last reply that has some: (id, title).
    fn buttons(&self) -> Vec<(String, String)> {
        self.actions
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Reply {
                    content: OutContent::Buttons { buttons, .. },
                } => Some(
                    buttons
                        .iter()
                        .map(|b| (b.id.clone(), b.title.clone()))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn appointments(&self) -> Vec<&AppointmentAction> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Appointment(x) => Some(x),
                _ => None,
            })
            .collect()
    }

    fn stages(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Lead(LeadAction::Stage { stage, .. }) => Some(stage.clone()),
                _ => None,
            })
            .collect()
    }

    fn scheduled(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Schedule { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    fn cancelled_timers(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Cancel { key } => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    fn slot_buttons(&self) -> Vec<String> {
        self.buttons()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| parse_slot_id(id).is_some())
            .collect()
    }
}

fn new() -> ConversationState {
    ConversationState::default()
}

#[test]
fn two_teeth_implant_asks_the_material_quotes_and_books_a_held_slot() {
    let b = Bench::new();
    let t = b.say(&new(), "2 dişe implant ne kadar", Some("price_inquiry"));
    assert!(t.text().contains("hangi seçeneği"), "{}", t.text());
    let options = t.buttons();
    assert_eq!(options.len(), 2, "{options:?}");
    assert_eq!(options[0].0, "material:0", "{options:?}");
    assert!(options[0].1.starts_with("Kore"), "{options:?}");

    let t = b.tap(&t.state, &options[0].0, &options[0].1);
    let text = t.text();
    assert!(text.contains("İmplant – Kore"), "{text}");
    assert!(text.contains("18.000 TL – 25.000 TL"), "per tooth: {text}");
    assert!(text.contains("36.000 TL – 50.000 TL"), "two teeth: {text}");
    assert!(
        text.contains("Kesin fiyat muayene sonrası belirlenir."),
        "{text}"
    );
    assert!(text.contains("Ücretsiz muayene"), "{text}");
    assert_eq!(t.stages(), ["quoted"]);
    // Three real slots, held, spread over the day parts: not 12:00, 12:15, 12:30.
    let slots = t.slot_buttons();
    assert_eq!(slots.len(), 3, "{:?}", t.buttons());
    let holds = t
        .appointments()
        .iter()
        .filter(|a| matches!(a, AppointmentAction::Hold { .. }))
        .count();
    assert_eq!(holds, 3);
    assert_eq!(
        t.buttons()[0].1,
        "Sal 1 Ara 12:00",
        "titles fit WhatsApp's 20 chars"
    );
    assert!(
        t.buttons()
            .iter()
            .all(|(_, title)| title.chars().count() <= 20)
    );
    assert!(
        t.scheduled()
            .iter()
            .filter(|k| k.starts_with("clinic:follow_up"))
            .count()
            == 2,
        "follow-ups after 1 and 3 days: {:?}",
        t.scheduled()
    );
    assert!(
        t.actions.iter().any(|a| matches!(
            a,
            Action::Lead(LeadAction::Interest { treatment: Some(tr), value_try: Some(50_000) }) if tr == "implant"
        )),
        "{:?}",
        t.actions
    );

    let (id, title) = t.buttons()[2].clone();
    let t = b.tap(&t.state, &id, &title);
    assert!(t.text().contains("Randevunuz oluşturuldu"), "{}", t.text());
    assert!(t.text().contains("2 Aralık Çarşamba 09:00"), "{}", t.text());
    assert!(
        t.text().contains("Randevunuzdan 2 saat önce hatırlatma"),
        "only the reminder still ahead is promised: {}",
        t.text()
    );
    let booked: Vec<_> = t
        .appointments()
        .into_iter()
        .filter_map(|a| match a {
            AppointmentAction::Book { slot } => Some(slot.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].service, "muayene");
    assert_eq!(t.stages(), ["appointment_booked"]);
    // Reminders 24 h and 2 h before; 24 h before Wednesday 09:00 has passed already, so
    // only the 2-hour one is set. The follow-ups are off.
    let reminders: Vec<_> = t
        .scheduled()
        .into_iter()
        .filter(|k| k.starts_with("clinic:reminder"))
        .collect();
    assert_eq!(
        reminders,
        [format!(
            "clinic:reminder:2h:{}",
            istanbul("2026-12-02T09:00").as_second()
        )]
    );
    assert_eq!(
        t.cancelled_timers()
            .iter()
            .filter(|k| k.starts_with("clinic:follow_up"))
            .count(),
        2
    );
}

#[test]
fn the_price_question_works_whatever_order_the_facts_come_in() {
    let b = Bench::new();
    let t = b.say(&new(), "fiyat?", Some("price_inquiry"));
    assert!(t.text().contains("Hangi tedavi"), "{}", t.text());
    let t = b.say(&t.state, "implant", None);
    assert!(t.text().contains("kaç diş"), "{}", t.text());
    let t = b.say(&t.state, "2", None);
    assert!(t.text().contains("hangi seçeneği"), "{}", t.text());
    // "ikincisi": the second option as listed (typed in a terminal or an SMS-like chat).
    let by_place = b.say(&t.state, "ikincisi", None);
    assert!(by_place.text().contains("İsviçre"), "{}", by_place.text());
    let t = b.say(&t.state, "isviçre olsun", None);
    assert!(t.text().contains("70.000 TL – 96.000 TL"), "{}", t.text());
    // Picking by typing the number of the line.
    let t = b.say(&t.state, "2", None);
    assert!(t.text().contains("Randevunuz oluşturuldu"), "{}", t.text());
}

#[test]
fn a_correction_requotes_and_whitening_is_quoted_at_once_with_its_campaign() {
    let b = Bench::new();
    let t = b.say(
        &new(),
        "3 dişe zirkonyum kaplama fiyatı",
        Some("price_inquiry"),
    );
    assert!(t.text().contains("24.000 TL – 36.000 TL"), "{}", t.text());
    let t = b.say(&t.state, "pardon 4 diş", None);
    assert!(t.text().contains("32.000 TL – 48.000 TL"), "{}", t.text());
    assert!(
        t.stages().is_empty(),
        "already quoted: the lead does not move again"
    );

    let t = b.say(
        &new(),
        "dis beyazlatma fiyati ne kadar",
        Some("price_inquiry"),
    );
    assert!(t.text().contains("%20 indirim"), "{}", t.text());
    assert!(t.text().contains("4.800 TL – 7.200 TL"), "{}", t.text());
}

#[test]
fn a_digression_is_answered_and_the_open_question_asked_again() {
    let b = Bench::new();
    let t = b.say(&new(), "implant fiyatı nedir", Some("price_inquiry"));
    assert!(t.text().contains("kaç diş"), "{}", t.text());
    let t = b.say(&t.state, "otopark var mı", Some("location"));
    let text = t.text();
    assert!(
        text.contains("Otoparkımız"),
        "the general flow answers: {text}"
    );
    assert!(
        text.contains("Fiyat sorunuza dönersek"),
        "then the pipeline: {text}"
    );
    let t = b.say(&t.state, "iki", None);
    assert!(t.text().contains("hangi seçeneği"), "{}", t.text());
}

#[test]
fn follow_ups_carry_no_price_and_use_the_template_outside_the_window() {
    let mut b = Bench::new();
    let t = b.say(
        &new(),
        "3 dişe zirkonyum kaplama fiyatı",
        Some("price_inquiry"),
    );
    let quoted = t.state;
    b.clock.advance(jiff::SignedDuration::from_hours(24));
    let t = b.timer(&quoted, "clinic:follow_up:1", serde_json::json!({"n": 1}));
    let text = t.text();
    assert!(text.contains("Ücretsiz muayene"), "{text}");
    for money in ["TL", "₺", "€", "indirim", "kampanya"] {
        assert!(!text.contains(money), "no {money} in a follow-up: {text}");
    }
    // WhatsApp's window has closed: only the approved utility template goes out.
    b.window = SendWindow::Closed;
    let t = b.timer(&quoted, "clinic:follow_up:1", serde_json::json!({"n": 1}));
    assert!(
        matches!(
            &t.actions[..],
            [Action::Reply { content: OutContent::Template { name, .. } }, ..] if name == "muayene_takip"
        ),
        "{:?}",
        t.actions
    );
    // A reply stops them; a booking too.
    let t = b.say(&quoted, "teşekkürler", Some("thanks"));
    assert_eq!(t.cancelled_timers().len(), 2, "{:?}", t.cancelled_timers());
    let mut booked = quoted.clone();
    booked.clinic.booked = true;
    assert!(
        b.timer(&booked, "clinic:follow_up:2", serde_json::json!({"n": 2}))
            .actions
            .is_empty()
    );
}

#[test]
fn reminders_come_with_buttons_only_while_the_booking_stands() {
    let mut b = Bench::new();
    let slot = demo_clinic()
        .slot_from_ref(
            &parse_slot_id(&format!(
                "slot:muayene:dr-ayse:koltuk-1:{}",
                istanbul("2026-12-03T10:00").as_second()
            ))
            .unwrap(),
        )
        .unwrap();
    let payload =
        serde_json::json!({"kind": "24h", "start": slot.start, "practitioner": "dr-ayse"});
    assert!(
        b.timer(&new(), "clinic:reminder:24h:1", payload.clone())
            .actions
            .is_empty(),
        "cancelled since: no reminder"
    );
    b.bookings = vec![Booking { id: 41, slot }];
    let t = b.timer(&new(), "clinic:reminder:24h:1", payload);
    assert!(
        t.text()
            .contains("Hatırlatma: yarın 3 Aralık Perşembe 10:00"),
        "{}",
        t.text()
    );
    let ids: Vec<String> = t.buttons().into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids,
        ["appt:confirm:41", "appt:cancel:41", "appt:reschedule:41"]
    );
    let t = b.tap(&t.state, "appt:confirm:41", "Geleceğim");
    assert!(t.text().contains("görüşmek üzere"), "{}", t.text());
}

#[test]
fn cancel_and_reschedule_from_chat() {
    let mut b = Bench::new();
    let slot = demo_clinic()
        .slot_from_ref(
            &parse_slot_id(&format!(
                "slot:muayene:dr-ayse:koltuk-1:{}",
                istanbul("2026-12-03T10:00").as_second()
            ))
            .unwrap(),
        )
        .unwrap();
    b.bookings = vec![Booking { id: 7, slot }];
    let t = b.say(
        &new(),
        "randevuma gelemeyeceğim iptal edin",
        Some("appointment_cancel"),
    );
    assert!(
        t.text().contains("iptal etmek istediğinize emin misiniz"),
        "{}",
        t.text()
    );
    let t = b.say(&t.state, "evet", Some("affirm"));
    assert!(matches!(
        t.appointments()[..],
        [AppointmentAction::Cancel { id: 7 }]
    ));
    assert!(t.text().contains("iptal edildi"), "{}", t.text());
    assert!(
        t.cancelled_timers()
            .iter()
            .any(|k| k.starts_with("clinic:reminder:24h"))
    );

    let t = b.say(
        &new(),
        "randevumu cumaya alabilir miyiz",
        Some("appointment_reschedule"),
    );
    assert!(t.text().contains("taşıyabileceğimiz"), "{}", t.text());
    assert!(
        t.buttons()
            .iter()
            .all(|(_, title)| title.starts_with("Cum")),
        "{:?}",
        t.buttons()
    );
    let (id, title) = t.buttons()[0].clone();
    let t = b.tap(&t.state, &id, &title);
    assert!(
        matches!(
            t.appointments()[..],
            [AppointmentAction::Reschedule { id: 7, .. }]
        ),
        "{:?}",
        t.actions
    );
    assert!(t.text().contains("taşındı"), "{}", t.text());
}

#[test]
fn a_slot_lost_to_another_patient_is_replaced_by_fresh_offers() {
    let mut b = Bench::new();
    let t = b.say(
        &new(),
        "muayene randevusu almak istiyorum",
        Some("appointment_book"),
    );
    let (id, title) = t.buttons()[0].clone();
    let wanted = demo_clinic()
        .slot_from_ref(&parse_slot_id(&id).unwrap())
        .unwrap();
    // The store refused the booking; the gateway runs the tap again with the slot marked.
    b.rejected = Some(wanted.clone());
    let again = b.tap(&t.state, &id, &title);
    assert!(again.text().contains("az önce doldu"), "{}", again.text());
    assert!(!again.slot_buttons().contains(&id), "not offered again");
    assert!(
        again
            .appointments()
            .iter()
            .all(|a| !matches!(a, AppointmentAction::Book { .. }))
    );
}

#[test]
fn a_full_calendar_offers_the_waitlist() {
    let mut b = Bench::new();
    let clinic = demo_clinic();
    let far = b.clock.now() + jiff::SignedDuration::from_hours(24 * 40);
    b.busy = clinic
        .practitioners
        .iter()
        .map(|p| Busy {
            resource: p.id.clone(),
            from: b.clock.now(),
            until: far,
        })
        .collect();
    let t = b.say(&new(), "randevu almak istiyorum", Some("appointment_book"));
    assert!(
        t.text().contains("haber vermemi ister misiniz"),
        "{}",
        t.text()
    );
    let t = b.tap(&t.state, "waitlist:join", "Evet, haber ver");
    assert!(
        matches!(t.appointments()[..], [AppointmentAction::JoinWaitlist { service, .. }] if service == "muayene"),
        "{:?}",
        t.actions
    );
}

fn offered_slot(t: &Turn) -> flows::clinic::Slot {
    t.appointments()
        .iter()
        .find_map(|a| match a {
            AppointmentAction::Hold { slot, .. } => Some(slot.clone()),
            _ => None,
        })
        .expect("a held slot")
}

/// A freed slot offered from the waitlist: held and offered with buttons when it is
/// still free, let go when the hold ends unanswered; when it is gone, nothing is said
/// and the patient goes back in line.
#[test]
fn a_waitlist_offer_is_held_or_gives_the_place_back() {
    let mut b = Bench::new();
    let start = b.clock.now() + jiff::SignedDuration::from_hours(48);
    let start = start
        .to_zoned(jiff::tz::TimeZone::get("Europe/Istanbul").unwrap())
        .with()
        .hour(10)
        .minute(0)
        .build()
        .unwrap()
        .timestamp();
    let end = start + jiff::SignedDuration::from_mins(30);
    let payload = serde_json::json!({
        "service": "muayene", "practitioner": "dr-ayse", "room": "koltuk-1",
        "starts_at": start.to_string(), "ends_at": end.to_string(),
        "blocks_from": start.to_string(), "blocks_until": end.to_string(), "waitlist": 7
    });
    let offered = b.timer(&new(), "waitlist:offer", payload.clone());
    assert!(
        matches!(offered.appointments()[..], [AppointmentAction::Hold { slot, .. }] if slot.start == start),
        "{:?}",
        offered.actions
    );
    assert!(
        !offered.text().is_empty(),
        "the patient is told: {:?}",
        offered.actions
    );

    // No answer until the hold ends: let go (the slot passes on), silently.
    let lapse = offered
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Schedule { key, payload, .. } if key == "waitlist:lapse" => {
                Some(payload.clone())
            }
            _ => None,
        })
        .expect("a timer at the hold's end");
    let t = b.timer(&offered.state, "waitlist:lapse", lapse.clone());
    assert_eq!(t.appointments(), [&AppointmentAction::ReleaseHolds]);
    assert!(t.text().is_empty(), "{:?}", t.actions);
    assert!(t.state.clinic.offered.is_empty());
    // Taken (or let go) before: the timer changes nothing.
    let booked = b.tap(
        &offered.state,
        &flows::clinic::slot_id(&offered_slot(&offered)),
        "Bu saati al",
    );
    assert!(
        booked
            .appointments()
            .iter()
            .any(|a| matches!(a, AppointmentAction::Book { .. })),
        "{:?}",
        booked.actions
    );
    let t = b.timer(&booked.state, "waitlist:lapse", lapse);
    assert!(t.actions.is_empty(), "{:?}", t.actions);

    // Taken meanwhile (the practitioner is busy then): silence, and the place back.
    b.busy = vec![Busy {
        resource: "dr-ayse".into(),
        from: start,
        until: end,
    }];
    let t = b.timer(&new(), "waitlist:offer", payload);
    assert_eq!(t.appointments(), [&AppointmentAction::ReleaseHolds]);
    assert!(t.text().is_empty(), "{:?}", t.actions);
}

#[test]
fn patients_abroad_get_euros_english_and_their_own_time() {
    let mut b = Bench::new();
    b.customer_tz = Some("Europe/Berlin");
    let t = b.say_in(
        &new(),
        "How much are zirconia crowns for 2 teeth?",
        Some("price_inquiry"),
        "en",
    );
    let text = t.text();
    assert!(text.contains("360 € – 500 €"), "{text}");
    assert!(
        text.contains("exact price is set after the examination"),
        "{text}"
    );
    assert!(
        text.contains("your time"),
        "Berlin is an hour behind: {text}"
    );
}

#[test]
fn opting_out_mid_pipeline_stops_everything_and_loses_the_lead() {
    let b = Bench::new();
    let t = b.say(
        &new(),
        "3 dişe zirkonyum kaplama fiyatı",
        Some("price_inquiry"),
    );
    let t = b.say(&t.state, "bana bir daha mesaj atmayın", Some("opt_out"));
    assert!(t.state.opted_out);
    assert!(t.appointments().contains(&&AppointmentAction::ReleaseHolds));
    assert_eq!(t.stages(), ["lost"]);
    assert!(
        b.timer(&t.state, "clinic:follow_up:1", serde_json::json!({"n": 1}))
            .actions
            .is_empty()
    );
}

#[test]
fn an_emergency_goes_to_a_human_at_once() {
    let b = Bench::new();
    let t = b.say(
        &new(),
        "dişim çok ağrıyor yüzüm şişti acil",
        Some("emergency"),
    );
    assert!(t.state.handoff);
    assert!(t.text().contains("112"), "{}", t.text());
    assert!(
        t.actions
            .iter()
            .any(|a| matches!(a, Action::Handoff { reason } if reason == "emergency"))
    );
}

#[test]
fn a_dentist_named_by_the_patient_is_the_one_offered() {
    let b = Bench::new();
    let t = b.say(
        &new(),
        "Mehmet Bey'den randevu alabilir miyim",
        Some("appointment_book"),
    );
    let slots: Vec<String> = t.slot_buttons();
    assert_eq!(slots.len(), 3, "{}", t.text());
    assert!(
        slots.iter().all(|id| id.contains(":dr-mehmet:")),
        "{slots:?}"
    );
    assert!(t.text().contains("Dt. Mehmet Öztürk"), "{}", t.text());
}

#[test]
fn a_forged_slot_button_books_nothing_outside_what_is_offered() {
    let b = Bench::new();
    let forged = |service: &str, local: &str| {
        format!(
            "slot:{service}:dr-mehmet:koltuk-3:{}",
            istanbul(local).as_second()
        )
    };
    // 03:00 at night, and a 90-minute implant surgery nobody offered in chat.
    for id in [
        forged("muayene", "2026-12-02T03:00"),
        forged("implant", "2026-12-02T10:00"),
    ] {
        let t = b.tap(&new(), &id, "…");
        assert!(
            t.appointments()
                .iter()
                .all(|a| !matches!(a, AppointmentAction::Book { .. })),
            "{id}: {:?}",
            t.actions
        );
        assert!(t.text().contains("az önce doldu"), "{}", t.text());
    }
}
