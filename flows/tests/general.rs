//! The general flow, branch by branch, with a manual clock in Istanbul.

use crate::istanbul;
use channels::{Content, MediaKind, OutContent};
use flows::general::{BUTTON_HANDOFF_NO, BUTTON_HANDOFF_YES};
use flows::{
    Action, ConversationState, Ctx, Event, ManualClock, Pending, TenantProfile, Tone,
    Understanding, handle,
};
use proptest::prelude::*;

/// Monday noon: the test shop is open (09:00–19:00).
const OPEN: &str = "2025-06-02T12:00";
/// Friday 20:00: closed, opens Saturday 10:00.
const CLOSED: &str = "2025-06-06T20:00";

struct Setup {
    profile: TenantProfile,
    clock: ManualClock,
}

impl Setup {
    fn new() -> Self {
        Self::at(OPEN)
    }

    fn at(local: &str) -> Self {
        Setup {
            profile: TenantProfile::new_test(),
            clock: ManualClock::new(istanbul(local)),
        }
    }

    fn sen(mut self) -> Self {
        self.profile.tone = Tone::Sen;
        self
    }

    fn run(&self, state: &ConversationState, event: &Event) -> (ConversationState, Vec<Action>) {
        let ctx = Ctx::new(&self.profile, &self.clock);
        handle(state, event, &ctx)
    }

    /// A text message understood as `intent` with `confidence`.
    fn say(
        &self,
        state: &ConversationState,
        intent: &str,
        confidence: f32,
    ) -> (ConversationState, Vec<Action>) {
        self.run(state, &said(intent, confidence))
    }
}

fn said(intent: &str, confidence: f32) -> Event {
    Event::Message {
        content: Content::Text {
            body: format!("({intent})"),
        },
        understanding: Some(Understanding {
            intent: intent.into(),
            confidence,
            language: None,
            ..Default::default()
        }),
    }
}

fn tap(id: &str, title: &str, understanding: Option<Understanding>) -> Event {
    Event::Message {
        content: Content::Interactive {
            id: id.into(),
            title: title.into(),
        },
        understanding,
    }
}

fn media(kind: MediaKind, caption: Option<&str>) -> Event {
    Event::Message {
        content: Content::Media {
            kind,
            url: None,
            media_id: Some("m1".into()),
            mime: None,
            caption: caption.map(Into::into),
        },
        understanding: None,
    }
}

fn replies(actions: &[Action]) -> Vec<&OutContent> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Reply { content } => Some(content),
            _ => None,
        })
        .collect()
}

/// The one reply's text; fails when there is not exactly one.
fn reply(actions: &[Action]) -> String {
    let r = replies(actions);
    assert_eq!(r.len(), 1, "expected one reply in {actions:?}");
    r[0].body().to_string()
}

fn tags(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Tag { tag } => Some(tag.as_str()),
            _ => None,
        })
        .collect()
}

fn handoff_reason(actions: &[Action]) -> Option<&str> {
    actions.iter().find_map(|a| match a {
        Action::Handoff { reason } => Some(reason.as_str()),
        _ => None,
    })
}

fn handed_off() -> ConversationState {
    ConversationState {
        handoff: true,
        ..Default::default()
    }
}

#[test]
fn every_event_counts_a_turn() {
    let s = Setup::new();
    let mut state = ConversationState::default();
    let events = [
        said("greeting", 0.9),
        Event::Timer {
            key: "x".into(),
            payload: serde_json::Value::Null,
        },
        Event::AgentRelease,
        said("out_of_scope", 0.9),
    ];
    for (i, event) in events.iter().enumerate() {
        state = s.run(&state, event).0;
        assert_eq!(state.turns, i as u32 + 1);
    }
}

#[test]
fn greeting_first_then_shorter_and_custom() {
    let s = Setup::new();
    let (state, actions) = s.say(&ConversationState::default(), "greeting", 0.95);
    let first = reply(&actions);
    assert!(first.starts_with("Merhaba, hoş geldiniz!"), "{first}");
    assert!(first.contains("Deneme Mağazası olarak size"), "{first}");
    assert!(state.greeted);
    assert_eq!(tags(&actions), ["greeting"]);
    assert_eq!(state.last_intent.as_deref(), Some("greeting"));

    let (_, actions) = s.say(&state, "greeting", 0.95);
    let again = reply(&actions);
    assert_eq!(again, "Tekrar merhaba! Size nasıl yardımcı olabiliriz?");
    assert!(again.len() < first.len());

    let mut s = Setup::new();
    s.profile.greeting = Some("Selam! Kliniğimize hoş geldiniz.".into());
    let (_, actions) = s.say(&ConversationState::default(), "greeting", 0.95);
    assert_eq!(reply(&actions), "Selam! Kliniğimize hoş geldiniz.");
}

#[test]
fn small_talk_replies() {
    let s = Setup::new();
    let fresh = ConversationState::default();
    let text = |intent| reply(&s.say(&fresh, intent, 0.9).1);
    assert!(text("thanks").starts_with("Rica ederiz!"));
    assert!(text("goodbye").contains("İyi günler dileriz"));
    assert!(text("affirm").starts_with("Tamamdır!"));
    assert!(text("deny").starts_with("Peki, anlaşıldı."));
    for intent in ["thanks", "goodbye", "affirm", "deny"] {
        let (state, actions) = s.say(&fresh, intent, 0.9);
        assert_eq!(tags(&actions), [intent]);
        assert_eq!(
            handoff_reason(&actions),
            None,
            "{intent}: no pending question, no handoff"
        );
        assert!(!state.handoff);
    }
}

#[test]
fn sen_and_siz_read_differently() {
    let siz = Setup::new();
    let sen = Setup::new().sen();
    let fresh = ConversationState::default();
    for intent in [
        "greeting",
        "thanks",
        "goodbye",
        "affirm",
        "deny",
        "human_handoff",
        "opt_out",
        "complaint",
        "out_of_scope",
    ] {
        let a = reply(&siz.say(&fresh, intent, 0.9).1);
        let b = reply(&sen.say(&fresh, intent, 0.9).1);
        assert_ne!(a, b, "{intent}");
    }
    let casual = reply(&sen.say(&fresh, "greeting", 0.9).1);
    assert!(
        casual.contains("hoş geldin!") && casual.contains("sana"),
        "{casual}"
    );
    assert!(!casual.contains("siniz"), "{casual}");
}

#[test]
fn business_hours_while_open() {
    let s = Setup::at(OPEN);
    let (state, actions) = s.say(&ConversationState::default(), "business_hours", 0.9);
    assert_eq!(
        reply(&actions),
        "Çalışma saatlerimiz: Pazartesi–Cuma 09:00–19:00, Cumartesi 10:00–14:00, Pazar kapalı.\n\
         Şu an açığız, bugün 19:00'a kadar hizmet veriyoruz."
    );
    assert_eq!(tags(&actions), ["business_hours"]);
    assert_eq!(state.last_intent.as_deref(), Some("business_hours"));
}

#[test]
fn business_hours_while_closed_say_when_we_open() {
    let cases = [
        (CLOSED, "Şu an kapalıyız; yarın 10:00'da açılıyoruz."),
        (
            "2025-06-02T07:30",
            "Şu an kapalıyız; bugün 09:00'da açılıyoruz.",
        ),
        (
            "2025-06-07T15:00",
            "Şu an kapalıyız; Pazartesi 09:00'da açılıyoruz.",
        ),
        (
            "2025-06-08T23:00",
            "Şu an kapalıyız; yarın 09:00'da açılıyoruz.",
        ),
        (
            "2025-06-07T13:00",
            "Şu an açığız, bugün 14:00'e kadar hizmet veriyoruz.",
        ),
    ];
    for (at, expected) in cases {
        let text = reply(
            &Setup::at(at)
                .say(&ConversationState::default(), "business_hours", 0.9)
                .1,
        );
        assert!(text.ends_with(expected), "{at}: {text}");
    }
    // Only open on Mondays, asked on a Monday evening: a week ahead.
    let mut s = Setup::at("2025-06-02T20:00");
    s.profile.hours = flows::BusinessHours::default();
    s.profile.hours.days[0] = flows::BusinessHours::parse_day("mon", "09:00-12:00").unwrap();
    let text = reply(
        &s.say(&ConversationState::default(), "business_hours", 0.9)
            .1,
    );
    assert!(
        text.ends_with("haftaya Pazartesi 09:00'da açılıyoruz."),
        "{text}"
    );
}

#[test]
fn business_hours_not_configured() {
    let mut s = Setup::new();
    s.profile.hours = Default::default();
    let (state, actions) = s.say(&ConversationState::default(), "business_hours", 0.9);
    assert!(reply(&actions).contains("çalışma arkadaşımız sizinle paylaşacak"));
    assert_eq!(tags(&actions), ["business_hours", "hours_question"]);
    assert!(!state.handoff);
}

#[test]
fn location_with_directions_and_map() {
    let s = Setup::new();
    let (_, actions) = s.say(&ConversationState::default(), "location", 0.9);
    assert_eq!(
        reply(&actions),
        "Adresimiz: Bağdat Caddesi No: 1, Kadıköy, İstanbul\n\
         Otoparkımız binanın arkasındadır.\n\
         Haritada görmek için: https://maps.example.com/deneme"
    );

    let mut s = Setup::new();
    s.profile.directions = None;
    s.profile.maps_url = None;
    let (_, actions) = s.say(&ConversationState::default(), "location", 0.9);
    assert_eq!(
        reply(&actions),
        "Adresimiz: Bağdat Caddesi No: 1, Kadıköy, İstanbul"
    );

    s.profile.address = String::new();
    let (_, actions) = s.say(&ConversationState::default(), "location", 0.9);
    assert!(reply(&actions).starts_with("Adres bilgimizi"));
    assert_eq!(tags(&actions), ["location", "location_question"]);
}

#[test]
fn payment_options_listed_or_left_to_a_colleague() {
    let s = Setup::new();
    let (_, actions) = s.say(&ConversationState::default(), "payment_options", 0.9);
    assert_eq!(
        reply(&actions),
        "Ödeme seçeneklerimiz:\n• Kredi kartı (3 taksite kadar)\n• Havale / EFT\n• Kapıda ödeme"
    );

    let mut s = Setup::new();
    s.profile.payment_options.clear();
    let (state, actions) = s.say(&ConversationState::default(), "payment_options", 0.9);
    assert!(reply(&actions).contains("bir çalışma arkadaşımız sizinle paylaşacak"));
    assert_eq!(tags(&actions), ["payment_options", "payment_question"]);
    assert_eq!(handoff_reason(&actions), None);
    assert!(!state.handoff);
}

#[test]
fn human_handoff_during_and_outside_working_hours() {
    let (state, actions) = Setup::at(OPEN).say(&ConversationState::default(), "human_handoff", 0.9);
    assert!(state.handoff);
    assert_eq!(handoff_reason(&actions), Some("customer_request"));
    assert_eq!(
        reply(&actions),
        "Sizi bir müşteri temsilcimize aktarıyorum. En kısa sürede size buradan dönüş yapılacak."
    );

    let (_, actions) = Setup::at(CLOSED).say(&ConversationState::default(), "human_handoff", 0.9);
    assert_eq!(
        reply(&actions),
        "Sizi bir müşteri temsilcimize aktarıyorum. Mesai saatlerimiz dışında olduğumuz için \
         ilk açılışımızda, yarın 10:00'da, size buradan dönüş yapacağız."
    );
}

#[test]
fn complaint_apologises_tags_and_hands_off() {
    let (state, actions) = Setup::new().say(&ConversationState::default(), "complaint", 0.9);
    assert!(state.handoff);
    assert_eq!(tags(&actions), ["complaint"]);
    assert_eq!(handoff_reason(&actions), Some("complaint"));
    assert!(reply(&actions).starts_with("Yaşadığınız sorun için çok üzgünüz."));
}

#[test]
fn opt_out_confirms_once_then_silence_forever() {
    let s = Setup::new();
    let (state, actions) = s.say(&ConversationState::default(), "opt_out", 0.9);
    assert!(state.opted_out);
    assert!(actions.contains(&Action::OptOut));
    assert_eq!(
        reply(&actions),
        "Anlaşıldı, artık size mesaj göndermeyeceğiz. İyi günler dileriz."
    );

    let mut state = state;
    for event in [
        said("greeting", 0.99),
        said("opt_out", 0.99),
        said("human_handoff", 0.99),
        said("out_of_scope", 0.1),
        tap(BUTTON_HANDOFF_YES, "Temsilciye bağlan", None),
        media(MediaKind::Image, None),
        Event::AgentRelease,
        Event::Timer {
            key: "k".into(),
            payload: serde_json::Value::Null,
        },
    ] {
        let turns = state.turns;
        let (next, actions) = s.run(&state, &event);
        assert_eq!(actions, vec![], "{event:?}");
        assert_eq!(next.turns, turns + 1);
        assert!(next.opted_out);
        state = next;
    }
}

#[test]
fn unclear_streak_asks_offers_then_hands_off() {
    let s = Setup::new();
    // Below the threshold (0.6), out of scope, and a niche intent the general flow
    // cannot answer yet: all three count as not understood.
    let (state, actions) = s.say(&ConversationState::default(), "business_hours", 0.3);
    assert_eq!(state.unclear_streak, 1);
    assert!(reply(&actions).starts_with("Kusura bakmayın, mesajınızı tam anlayamadım."));
    assert!(reply(&actions).contains("Çalışma saatlerimiz, adresimiz ve ödeme seçeneklerimiz"));
    assert_eq!(tags(&actions), Vec::<&str>::new());
    assert_eq!(state.last_intent, None);

    let (state, actions) = s.say(&state, "out_of_scope", 0.99);
    assert_eq!(state.unclear_streak, 2);
    assert_eq!(state.pending, Some(Pending::HandoffOffer));
    assert_eq!(tags(&actions), ["unrecognized"]);
    match replies(&actions)[..] {
        [OutContent::Buttons { body, buttons }] => {
            assert!(
                body.contains("temsilcimize bağlamamı ister misiniz"),
                "{body}"
            );
            let ids: Vec<_> = buttons
                .iter()
                .map(|b| (b.id.as_str(), b.title.as_str()))
                .collect();
            assert_eq!(
                ids,
                [
                    ("handoff:yes", "Temsilciye bağlan"),
                    ("handoff:no", "Hayır, teşekkürler")
                ]
            );
        }
        ref other => panic!("expected buttons, got {other:?}"),
    }

    let (state, actions) = s.say(&state, "order_status", 0.99);
    assert!(state.handoff);
    assert_eq!(state.pending, None);
    assert_eq!(handoff_reason(&actions), Some("unrecognized"));
    assert!(reply(&actions).starts_with("Sorunuzu bir çalışma arkadaşıma iletiyorum."));
}

#[test]
fn confidence_at_the_threshold_counts_as_understood() {
    let s = Setup::new();
    let (state, actions) = s.say(&ConversationState::default(), "thanks", 0.6);
    assert_eq!(tags(&actions), ["thanks"]);
    assert_eq!(state.unclear_streak, 0);
    let (state, _) = s.say(&ConversationState::default(), "thanks", f32::NAN);
    assert_eq!(state.unclear_streak, 1, "NaN is not understood");
}

#[test]
fn an_understood_intent_resets_the_streak() {
    let s = Setup::new();
    let (state, _) = s.say(&ConversationState::default(), "out_of_scope", 0.9);
    let (state, _) = s.say(&state, "out_of_scope", 0.9);
    assert_eq!(state.unclear_streak, 2);
    let (state, _) = s.say(&state, "location", 0.9);
    assert_eq!(state.unclear_streak, 0);
    assert_eq!(state.pending, None);
    let (state, actions) = s.say(&state, "out_of_scope", 0.9);
    assert_eq!(state.unclear_streak, 1);
    assert!(
        reply(&actions).starts_with("Kusura bakmayın"),
        "starts over with a rephrase"
    );
}

#[test]
fn handoff_buttons_are_handled_by_id() {
    let s = Setup::new();
    let offered = ConversationState {
        unclear_streak: 2,
        pending: Some(Pending::HandoffOffer),
        ..Default::default()
    };
    // Without understanding, and with the title classified as something unrelated.
    for understanding in [
        None,
        Some(Understanding {
            intent: "greeting".into(),
            confidence: 0.9,
            language: None,
            ..Default::default()
        }),
    ] {
        let (state, actions) = s.run(
            &offered,
            &tap(BUTTON_HANDOFF_YES, "Temsilciye bağlan", understanding),
        );
        assert!(state.handoff);
        assert_eq!(handoff_reason(&actions), Some("customer_request"));
        assert_eq!(tags(&actions), ["human_handoff"]);
        assert!(reply(&actions).starts_with("Sizi bir müşteri temsilcimize aktarıyorum."));
    }

    let (state, actions) = s.run(
        &offered,
        &tap(BUTTON_HANDOFF_NO, "Hayır, teşekkürler", None),
    );
    assert!(!state.handoff);
    assert_eq!(state.unclear_streak, 0, "declining starts the streak over");
    assert_eq!(state.pending, None);
    assert_eq!(handoff_reason(&actions), None);
    assert!(reply(&actions).starts_with("Peki!"));
}

#[test]
fn typed_yes_or_no_answers_the_handoff_offer() {
    let s = Setup::new();
    let offered = ConversationState {
        unclear_streak: 2,
        pending: Some(Pending::HandoffOffer),
        ..Default::default()
    };
    let (state, actions) = s.say(&offered, "affirm", 0.9);
    assert!(state.handoff);
    assert_eq!(handoff_reason(&actions), Some("customer_request"));

    let (state, actions) = s.say(&offered, "deny", 0.9);
    assert!(!state.handoff);
    assert_eq!(state.unclear_streak, 0);
    assert!(reply(&actions).starts_with("Peki!"));

    // The offer is forgotten after any other message.
    let (state, _) = s.say(&offered, "location", 0.9);
    let (state, actions) = s.say(&state, "affirm", 0.9);
    assert!(!state.handoff);
    assert!(reply(&actions).starts_with("Tamamdır!"));
}

#[test]
fn an_unknown_button_falls_back_to_its_title() {
    let s = Setup::new();
    let understood = Some(Understanding {
        intent: "location".into(),
        confidence: 0.9,
        language: None,
        ..Default::default()
    });
    let (_, actions) = s.run(
        &ConversationState::default(),
        &tap("slot:42", "Adres", understood),
    );
    assert!(reply(&actions).starts_with("Adresimiz:"));
    let (state, _) = s.run(
        &ConversationState::default(),
        &tap("slot:42", "Salı 10:00", None),
    );
    assert_eq!(state.unclear_streak, 1);
}

#[test]
fn silent_while_a_human_has_the_conversation() {
    let s = Setup::new();
    for event in [
        said("greeting", 0.99),
        said("human_handoff", 0.99),
        said("complaint", 0.99),
        said("out_of_scope", 0.99),
        said("thanks", 0.1),
        tap(BUTTON_HANDOFF_YES, "Temsilciye bağlan", None),
        media(MediaKind::Image, None),
        Event::Timer {
            key: "k".into(),
            payload: serde_json::Value::Null,
        },
    ] {
        let (state, actions) = s.run(&handed_off(), &event);
        assert_eq!(actions, vec![], "{event:?}");
        assert!(state.handoff);
        assert_eq!(state.unclear_streak, 0);
    }
}

#[test]
fn opt_out_during_handoff_is_recorded_silently() {
    let s = Setup::new();
    let (state, actions) = s.say(&handed_off(), "opt_out", 0.9);
    assert_eq!(actions, vec![Action::OptOut]);
    assert!(state.opted_out);
    // A doubtful opt-out is not recorded.
    let (state, actions) = s.say(&handed_off(), "opt_out", 0.2);
    assert_eq!(actions, vec![]);
    assert!(!state.opted_out);
}

#[test]
fn release_gives_the_conversation_back() {
    let s = Setup::new();
    let held = ConversationState {
        handoff: true,
        unclear_streak: 3,
        ..Default::default()
    };
    let (state, actions) = s.run(&held, &Event::AgentRelease);
    assert_eq!(actions, vec![]);
    assert!(!state.handoff);
    assert_eq!(state.unclear_streak, 0);
    let (_, actions) = s.say(&state, "thanks", 0.9);
    assert!(reply(&actions).starts_with("Rica ederiz"));
}

#[test]
fn timer_is_a_no_op() {
    let s = Setup::new();
    let state = ConversationState {
        greeted: true,
        unclear_streak: 1,
        turns: 4,
        ..Default::default()
    };
    let (next, actions) = s.run(
        &state,
        &Event::Timer {
            key: "followup".into(),
            payload: serde_json::json!({"a": 1}),
        },
    );
    assert_eq!(actions, vec![]);
    assert_eq!(next, ConversationState { turns: 5, ..state });
}

#[test]
fn attachments_get_one_notice_per_burst() {
    let s = Setup::new();
    let (state, actions) = s.run(
        &ConversationState::default(),
        &media(MediaKind::Image, None),
    );
    assert_eq!(
        reply(&actions),
        "Fotoğrafınız için teşekkürler. Şu an yalnızca yazılı mesajları okuyabiliyorum; sorunuzu \
         yazarak iletebilir ya da bir temsilcimizle görüşmek istediğinizi yazabilirsiniz."
    );
    assert_eq!(tags(&actions), ["attachment"]);
    assert_eq!(
        state.unclear_streak, 0,
        "an attachment is not a misunderstanding"
    );

    let (state, actions) = s.run(&state, &media(MediaKind::Image, None));
    assert_eq!(
        replies(&actions).len(),
        0,
        "the rest of a burst is only tagged"
    );
    assert_eq!(tags(&actions), ["attachment"]);

    let (state, _) = s.say(&state, "thanks", 0.9);
    let location = Event::Message {
        content: Content::Location {
            latitude: 41.0,
            longitude: 29.0,
            name: None,
            address: None,
        },
        understanding: None,
    };
    let (_, actions) = s.run(&state, &location);
    assert!(reply(&actions).starts_with("Konumunuz için teşekkürler."));

    let unknown = Event::Message {
        content: Content::Unsupported {
            kind: "poll".into(),
        },
        understanding: None,
    };
    let (_, actions) = s.run(&ConversationState::default(), &unknown);
    assert!(reply(&actions).starts_with("Mesajınız için teşekkürler."));

    let (_, actions) = Setup::new().sen().run(
        &ConversationState::default(),
        &media(MediaKind::Audio, None),
    );
    assert!(reply(&actions).starts_with("Ses kaydın için teşekkürler."));
}

#[test]
fn a_captioned_photo_is_read_by_its_caption() {
    let s = Setup::new();
    let captioned = Event::Message {
        content: Content::Media {
            kind: MediaKind::Image,
            url: None,
            media_id: None,
            mime: None,
            caption: Some("adresiniz nerede".into()),
        },
        understanding: Some(Understanding {
            intent: "location".into(),
            confidence: 0.9,
            language: None,
            ..Default::default()
        }),
    };
    let (_, actions) = s.run(&ConversationState::default(), &captioned);
    assert!(reply(&actions).starts_with("Adresimiz:"));
    // A caption nobody classified is a message not understood, not an attachment.
    let (state, _) = s.run(
        &ConversationState::default(),
        &media(MediaKind::Image, Some("bu ne")),
    );
    assert_eq!(state.unclear_streak, 1);
}

#[test]
fn old_states_load_with_the_new_fields_defaulted() {
    let old = serde_json::json!({"handoff": false, "opted_out": false, "unclear_streak": 2, "greeted": true, "turns": 7, "last_intent": "greeting"});
    let state = ConversationState::from_json(&old);
    assert_eq!(state.pending, None);
    assert_eq!(state.attachments_in_row, 0);
    assert_eq!(state.unclear_streak, 2);
    let offered = ConversationState {
        pending: Some(Pending::HandoffOffer),
        ..state
    };
    assert_eq!(offered.to_json()["pending"], "handoff_offer");
    assert_eq!(ConversationState::from_json(&offered.to_json()), offered);
}

fn any_intent() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            intents::catalog::GENERAL_INTENTS
                .iter()
                .copied()
                .chain(["order_status", "", "İPTAL",])
                .collect::<Vec<_>>(),
        )
        .prop_map(String::from),
        ".{0,12}",
    ]
}

fn any_confidence() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(-1.0f32),
        Just(0.6f32),
        0.0f32..=1.0,
        any::<f32>()
    ]
}

fn any_content() -> impl Strategy<Value = Content> {
    prop_oneof![
        ".{0,20}".prop_map(|body| Content::Text { body }),
        (
            prop::sample::select(vec![BUTTON_HANDOFF_YES, BUTTON_HANDOFF_NO, "other"]),
            ".{0,8}"
        )
            .prop_map(|(id, title)| Content::Interactive {
                id: id.into(),
                title
            }),
        prop::option::of(".{0,8}").prop_map(|caption| Content::Media {
            kind: MediaKind::Video,
            url: None,
            media_id: None,
            mime: None,
            caption
        }),
        Just(Content::Location {
            latitude: f64::NAN,
            longitude: 0.0,
            name: None,
            address: None
        }),
        ".{0,8}".prop_map(|kind| Content::Unsupported { kind }),
    ]
}

fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => (any_content(), prop::option::of((any_intent(), any_confidence())))
            .prop_map(|(content, u)| Event::Message {
                content,
                understanding: u.map(|(intent, confidence)| Understanding { intent, confidence, ..Default::default() }),
            }),
        1 => Just(Event::AgentRelease),
        1 => ".{0,8}".prop_map(|key| Event::Timer { key, payload: serde_json::Value::Null }),
    ]
}

fn any_state() -> impl Strategy<Value = ConversationState> {
    (
        any::<bool>(),
        prop::bool::weighted(0.1),
        any::<u8>(),
        any::<bool>(),
        any::<u32>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(
            |(handoff, opted_out, unclear_streak, greeted, turns, attachments_in_row, offered)| {
                ConversationState {
                    handoff,
                    opted_out,
                    unclear_streak,
                    greeted,
                    turns,
                    last_intent: None,
                    pending: offered.then_some(Pending::HandoffOffer),
                    attachments_in_row,
                    ..Default::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever arrives: no panic, one turn counted, at most one reply, silence when
    /// opted out or handed off, and no handoff without a reply telling the customer.
    #[test]
    fn handle_never_panics_and_keeps_its_promises(
        state in any_state(),
        event in any_event(),
        sen in any::<bool>(),
        threshold in 0.0f32..=1.0,
        minutes in 0i64..(7 * 24 * 60),
    ) {
        let mut s = Setup::at(OPEN);
        s.profile.confidence_threshold = threshold;
        if sen { s.profile.tone = Tone::Sen; }
        s.clock.advance(jiff::SignedDuration::from_mins(minutes));
        let (next, actions) = s.run(&state, &event);
        prop_assert_eq!(next.turns, state.turns.saturating_add(1));
        prop_assert!(replies(&actions).len() <= 1);
        if state.opted_out {
            prop_assert!(actions.is_empty());
        }
        if state.handoff && !matches!(event, Event::AgentRelease) {
            prop_assert!(replies(&actions).is_empty());
            prop_assert!(actions.iter().all(|a| *a == Action::OptOut));
        }
        if handoff_reason(&actions).is_some() {
            prop_assert!(next.handoff);
            prop_assert_eq!(replies(&actions).len(), 1);
        }
        for r in replies(&actions) {
            prop_assert!(!r.body().trim().is_empty());
        }
    }
}

#[test]
fn arabic_is_recognised_and_handed_to_the_team() {
    let tenant = flows::TenantProfile::new_test();
    let clock = flows::ManualClock::new(jiff::Timestamp::from_second(1_767_254_400).unwrap());
    let ctx = flows::Ctx::new(&tenant, &clock);
    let event = flows::Event::Message {
        content: channels::Content::Text {
            body: "مرحبا، كم سعر زراعة الأسنان؟".into(),
        },
        understanding: Some(Understanding {
            intent: "price_inquiry".into(),
            confidence: 0.9,
            language: Some("ar".into()),
            ..Default::default()
        }),
    };
    let (state, actions) = flows::handle(&flows::ConversationState::default(), &event, &ctx);
    assert!(state.handoff);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Handoff { reason } if reason == "arabic"))
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Tag { tag } if tag == "arabic"))
    );
    let reply = actions
        .iter()
        .find_map(|a| match a {
            Action::Reply { content } => Some(content.body().to_string()),
            _ => None,
        })
        .unwrap();
    assert!(
        reply.contains("شكرًا") && reply.contains("ekibimizden"),
        "{reply}"
    );
}
