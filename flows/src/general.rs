//! The general flow every tenant runs: greeting, thanks, goodbye, yes/no, business
//! hours, address, payment options, human handoff, opt-out, complaints, attachments and
//! messages the bot did not understand (ask again, offer a colleague, hand off).
//!
//! Rules that hold before any intent is looked at:
//! - an opted-out conversation gets nothing, ever (re-subscribing is a later issue);
//! - while a human has the conversation the bot is silent; it only records an opt-out;
//! - a button tap is handled by its id first, because the gateway may pass it with no
//!   understanding or with its title classified as some unrelated intent.
//!
//! Reply texts are Turkish, formal ("siz") unless the tenant chose the casual tone
//! ("sen"); they live in the private `texts` module so wording is reviewed in one place.

use crate::engine::{Action, ConversationState, Ctx, Event, Pending, Understanding};
use crate::profile::Tone;
use crate::tr;
use channels::{Button, Content, MediaKind, OutContent};
use jiff::Zoned;

/// Button id: the customer accepts the offer of a human colleague.
pub const BUTTON_HANDOFF_YES: &str = "handoff:yes";
/// Button id: the customer declines the offer of a human colleague.
pub const BUTTON_HANDOFF_NO: &str = "handoff:no";

/// Intent names from `spec/intents.md` that this flow answers.
mod intent {
    pub(super) const GREETING: &str = "greeting";
    pub(super) const THANKS: &str = "thanks";
    pub(super) const GOODBYE: &str = "goodbye";
    pub(super) const AFFIRM: &str = "affirm";
    pub(super) const DENY: &str = "deny";
    pub(super) const HUMAN_HANDOFF: &str = "human_handoff";
    pub(super) const OPT_OUT: &str = "opt_out";
    pub(super) const COMPLAINT: &str = "complaint";
    pub(super) const BUSINESS_HOURS: &str = "business_hours";
    pub(super) const LOCATION: &str = "location";
    pub(super) const PAYMENT_OPTIONS: &str = "payment_options";
    pub(super) const OUT_OF_SCOPE: &str = "out_of_scope";
}

/// Handoff reasons (what the agent's queue shows).
mod reason {
    pub(super) const CUSTOMER_REQUEST: &str = "customer_request";
    pub(super) const UNRECOGNIZED: &str = "unrecognized";
    pub(super) const COMPLAINT: &str = "complaint";
}

/// Tags this flow adds besides the intent names.
mod tag {
    /// The bot failed twice in a row: the dashboard's "top unrecognised" list.
    pub(super) const UNRECOGNIZED: &str = "unrecognized";
    /// The customer sent something without text.
    pub(super) const ATTACHMENT: &str = "attachment";
    /// Asked for facts the profile lacks: someone should answer and fill the profile.
    pub(super) const PAYMENT_QUESTION: &str = "payment_question";
    pub(super) const LOCATION_QUESTION: &str = "location_question";
    pub(super) const HOURS_QUESTION: &str = "hours_question";
    /// Written in Arabic: handed to the team (outside this phase's languages).
    pub(super) const ARABIC: &str = "arabic";
}

/// Handles one event for the general flow. Pure: time comes from `ctx.clock` only.
pub fn handle(
    state: &ConversationState,
    event: &Event,
    ctx: &Ctx<'_>,
) -> (ConversationState, Vec<Action>) {
    let mut turn = Turn {
        ctx,
        tone: ctx.tenant.tone,
        state: state.clone(),
        actions: Vec::new(),
    };
    turn.state.turns = turn.state.turns.saturating_add(1);
    if turn.state.opted_out {
        return (turn.state, turn.actions);
    }
    match event {
        // Timers belong to niche flows; nothing in the general flow sets one.
        Event::Timer { .. } => {}
        Event::AgentRelease => turn.release(),
        Event::Message {
            content,
            understanding,
        } => turn.message(content, understanding.as_ref()),
    }
    (turn.state, turn.actions)
}

/// One event being handled: the state as it becomes and the actions so far.
struct Turn<'a, 'c> {
    ctx: &'a Ctx<'c>,
    tone: Tone,
    state: ConversationState,
    actions: Vec<Action>,
}

impl Turn<'_, '_> {
    fn reply(&mut self, body: String) {
        self.actions.push(Action::reply(body));
    }

    fn tag(&mut self, tag: &str) {
        self.actions.push(Action::Tag {
            tag: tag.to_string(),
        });
    }

    /// The agent said goodbye; the next message starts afresh with the bot, and the
    /// streak that may have caused the handoff must not hand off again at once.
    fn release(&mut self) {
        self.state.handoff = false;
        self.state.unclear_streak = 0;
        self.state.pending = None;
    }

    fn message(&mut self, content: &Content, understanding: Option<&Understanding>) {
        let threshold = self.ctx.tenant.confidence_threshold;
        // `>=` is false for a NaN confidence, so garbage never counts as understood.
        let understood = understanding
            .filter(|u| u.intent != intent::OUT_OF_SCOPE && u.confidence >= threshold)
            .map(|u| u.intent.as_str());

        if self.state.handoff {
            // A human has the conversation: no bot replies, but "stop messaging me" must
            // still be recorded, or the next campaign would reach this customer.
            if understood == Some(intent::OPT_OUT) {
                self.state.opted_out = true;
                self.actions.push(Action::OptOut);
            }
            return;
        }

        // Any message answers (or ignores) the question the bot asked last.
        let pending = self.state.pending.take();
        let attachment = understanding.is_none() && attachment_noun(content, self.tone).is_some();
        if !attachment {
            self.state.attachments_in_row = 0;
        }

        // Arabic is outside this phase's languages: recognised, and a colleague takes
        // over at once (no guessing in a language the bot does not speak).
        if understanding.and_then(|u| u.language.as_deref()) == Some("ar") {
            self.tag(tag::ARABIC);
            self.state.pending = None;
            self.state.handoff = true;
            self.actions.push(Action::Handoff {
                reason: "arabic".to_string(),
            });
            self.reply(texts::arabic_handoff());
            return;
        }

        if let Content::Interactive { id, .. } = content {
            match id.as_str() {
                BUTTON_HANDOFF_YES => return self.accept_handoff_offer(intent::HUMAN_HANDOFF),
                BUTTON_HANDOFF_NO => return self.decline_handoff_offer(),
                _ => {} // another flow's button: fall back to what its title says
            }
        }

        match understood {
            Some(name) if is_general(name) => self.intent(name, pending),
            // Niche intents get their own flows later; until then the general flow
            // cannot answer them, and saying so beats a made-up answer.
            Some(_) => self.not_understood(),
            None if attachment => self.attachment(content),
            None => self.not_understood(),
        }
    }

    fn intent(&mut self, name: &str, pending: Option<Pending>) {
        self.state.unclear_streak = 0;
        self.state.last_intent = Some(name.to_string());
        self.tag(name);
        let tone = self.tone;
        let tenant = self.ctx.tenant;
        match name {
            intent::AFFIRM if pending == Some(Pending::HandoffOffer) => {
                self.accept_handoff_offer(intent::AFFIRM)
            }
            intent::DENY if pending == Some(Pending::HandoffOffer) => self.decline_handoff_offer(),
            intent::GREETING => {
                let custom = tenant
                    .greeting
                    .as_deref()
                    .map(str::trim)
                    .filter(|g| !g.is_empty());
                let text = match (self.state.greeted, custom) {
                    (true, _) => texts::greeting_again(tone),
                    (false, Some(own)) => own.to_string(),
                    (false, None) => texts::greeting(tone, &tenant.name),
                };
                self.state.greeted = true;
                self.reply(text);
            }
            intent::THANKS => self.reply(texts::thanks(tone)),
            intent::GOODBYE => self.reply(texts::goodbye(tone)),
            intent::AFFIRM => self.reply(texts::affirm(tone)),
            intent::DENY => self.reply(texts::deny(tone)),
            intent::BUSINESS_HOURS => self.business_hours(),
            intent::LOCATION => {
                if tenant.address.trim().is_empty() {
                    self.tag(tag::LOCATION_QUESTION);
                    self.reply(texts::address_missing(tone));
                } else {
                    self.reply(texts::location(
                        &tenant.address,
                        tenant.directions.as_deref(),
                        tenant.maps_url.as_deref(),
                    ));
                }
            }
            intent::PAYMENT_OPTIONS => {
                let options: Vec<&str> = tenant
                    .payment_options
                    .iter()
                    .map(|o| o.trim())
                    .filter(|o| !o.is_empty())
                    .collect();
                if options.is_empty() {
                    self.tag(tag::PAYMENT_QUESTION);
                    self.reply(texts::payment_missing(tone));
                } else {
                    self.reply(texts::payment(&options));
                }
            }
            intent::HUMAN_HANDOFF => {
                self.hand_off(reason::CUSTOMER_REQUEST, texts::handoff_lead(tone))
            }
            intent::OPT_OUT => {
                self.state.opted_out = true;
                self.actions.push(Action::OptOut);
                self.reply(texts::opted_out(tone));
            }
            intent::COMPLAINT => self.hand_off(reason::COMPLAINT, texts::complaint_lead(tone)),
            // `is_general` let only the names above through.
            _ => self.not_understood(),
        }
    }

    /// A yes to "shall I connect you?", by button (`via` = human_handoff) or typed (affirm).
    fn accept_handoff_offer(&mut self, via: &str) {
        self.state.unclear_streak = 0;
        self.state.last_intent = Some(via.to_string());
        self.tag(intent::HUMAN_HANDOFF);
        self.hand_off(reason::CUSTOMER_REQUEST, texts::handoff_lead(self.tone));
    }

    /// A no to "shall I connect you?": the customer wants to go on with the bot, so
    /// the streak starts over instead of handing off on the next unclear message.
    fn decline_handoff_offer(&mut self) {
        self.state.unclear_streak = 0;
        self.reply(texts::handoff_declined(self.tone));
    }

    fn hand_off(&mut self, reason: &str, lead: String) {
        self.state.handoff = true;
        self.state.pending = None;
        self.actions.push(Action::Handoff {
            reason: reason.to_string(),
        });
        let follow_up = texts::follow_up(self.tone, self.closed_until().as_deref());
        self.reply(format!("{lead} {follow_up}"));
    }

    /// Ask again, then offer a colleague, then hand off: never guess.
    fn not_understood(&mut self) {
        self.state.unclear_streak = self.state.unclear_streak.saturating_add(1);
        match self.state.unclear_streak {
            1 => self.reply(texts::rephrase(self.tone)),
            2 => {
                self.tag(tag::UNRECOGNIZED);
                self.state.pending = Some(Pending::HandoffOffer);
                self.actions.push(Action::Reply {
                    content: OutContent::Buttons {
                        body: texts::offer_handoff(self.tone),
                        buttons: vec![
                            Button {
                                id: BUTTON_HANDOFF_YES.to_string(),
                                title: texts::BUTTON_YES.to_string(),
                            },
                            Button {
                                id: BUTTON_HANDOFF_NO.to_string(),
                                title: texts::BUTTON_NO.to_string(),
                            },
                        ],
                    },
                });
            }
            _ => {
                self.tag(tag::UNRECOGNIZED);
                self.hand_off(reason::UNRECOGNIZED, texts::unrecognized_lead(self.tone));
            }
        }
    }

    /// Media without text, a location or an unknown payload. Customers often send a
    /// burst of photos; one notice is enough, the rest are only tagged.
    fn attachment(&mut self, content: &Content) {
        self.state.attachments_in_row = self.state.attachments_in_row.saturating_add(1);
        self.tag(tag::ATTACHMENT);
        if self.state.attachments_in_row == 1 {
            let noun =
                attachment_noun(content, self.tone).unwrap_or(texts::noun_message(self.tone));
            self.reply(texts::attachment(self.tone, noun));
        }
    }

    fn business_hours(&mut self) {
        let tenant = self.ctx.tenant;
        if tenant.hours.is_empty() {
            self.tag(tag::HOURS_QUESTION);
            return self.reply(texts::hours_missing(self.tone));
        }
        let tz = tenant.tz();
        let now = self.ctx.clock.now();
        let status = match tenant.hours.current_range(&tz, now) {
            Some((_, close)) => texts::open_now(close),
            None => match tenant.hours.next_opening(&tz, now) {
                Some(next) => texts::closed_now(&when_tr(&now.to_zoned(tz), &next), &next),
                None => String::new(), // unreachable: the hours are not empty
            },
        };
        self.reply(
            format!(
                "Çalışma saatlerimiz: {}.\n{status}",
                tenant.hours.describe_tr()
            )
            .trim_end()
            .to_string(),
        );
    }

    /// "yarın 09:00'da" when the business is closed now; `None` while open or when no
    /// hours are configured (then there is nothing true to say about when).
    fn closed_until(&self) -> Option<String> {
        let hours = &self.ctx.tenant.hours;
        let tz = self.ctx.tenant.tz();
        let now = self.ctx.clock.now();
        if hours.is_empty() || hours.is_open(&tz, now) {
            return None;
        }
        let next = hours.next_opening(&tz, now)?;
        Some(format!(
            "{} {}",
            when_tr(&now.to_zoned(tz), &next),
            tr::hm_locative(next.time())
        ))
    }
}

fn is_general(name: &str) -> bool {
    use intent::*;
    [
        GREETING,
        THANKS,
        GOODBYE,
        AFFIRM,
        DENY,
        HUMAN_HANDOFF,
        OPT_OUT,
        COMPLAINT,
        BUSINESS_HOURS,
        LOCATION,
        PAYMENT_OPTIONS,
    ]
    .contains(&name)
}

/// What the customer sent, as the subject of "… için teşekkürler", when it is
/// something without text the bot can read; `None` for text.
fn attachment_noun(content: &Content, tone: Tone) -> Option<&'static str> {
    let siz = tone == Tone::Siz;
    let pick = |formal, casual| Some(if siz { formal } else { casual });
    match content {
        Content::Text { .. } | Content::Interactive { .. } => None,
        Content::Media {
            caption: Some(c), ..
        } if !c.trim().is_empty() => None,
        Content::Media { kind, .. } => match kind {
            MediaKind::Image => pick("Fotoğrafınız", "Fotoğrafın"),
            MediaKind::Audio => pick("Ses kaydınız", "Ses kaydın"),
            MediaKind::Video => pick("Videonuz", "Videon"),
            MediaKind::Document => pick("Belgeniz", "Belgen"),
            MediaKind::Sticker => pick("Çıkartmanız", "Çıkartman"),
        },
        Content::Location { .. } => pick("Konumunuz", "Konumun"),
        Content::Unsupported { .. } => Some(texts::noun_message(tone)),
    }
}

/// "bugün", "yarın", "Perşembe" or "haftaya Pazartesi": the day of `at` seen from `now`.
fn when_tr(now: &Zoned, at: &Zoned) -> String {
    let days = now.date().duration_until(at.date()).as_hours() / 24;
    let day = tr::day_name(at.weekday());
    match days {
        ..=0 => "bugün".to_string(),
        1 => "yarın".to_string(),
        2..=6 => day.to_string(),
        _ => format!("haftaya {day}"),
    }
}

/// Every reply text of the general flow, by branch; `(siz, sen)` pairs where the
/// tone changes the words.
pub(crate) mod texts {
    use crate::profile::Tone;
    use crate::tr;
    use jiff::Zoned;
    use jiff::civil::Time;

    fn by(tone: Tone, siz: &str, sen: &str) -> String {
        match tone {
            Tone::Siz => siz.to_string(),
            Tone::Sen => sen.to_string(),
        }
    }

    pub(crate) const BUTTON_YES: &str = "Temsilciye bağlan";
    pub(crate) const BUTTON_NO: &str = "Hayır, teşekkürler";

    // The tenant's name is only ever followed by "olarak": Turkish suffixes after a
    // name depend on how it is pronounced, which we cannot know for "Diş Kliniği XYZ".
    pub(crate) fn greeting(tone: Tone, name: &str) -> String {
        match tone {
            Tone::Siz => format!(
                "Merhaba, hoş geldiniz! {name} olarak size nasıl yardımcı olabiliriz? \
                 Çalışma saatlerimizi, adresimizi veya ödeme seçeneklerimizi sorabilir ya da \
                 bir temsilcimizle görüşmek istediğinizi yazabilirsiniz."
            ),
            Tone::Sen => format!(
                "Merhaba, hoş geldin! {name} olarak sana nasıl yardımcı olabiliriz? \
                 Çalışma saatlerimizi, adresimizi veya ödeme seçeneklerimizi sorabilir ya da \
                 bir temsilcimizle görüşmek istediğini yazabilirsin."
            ),
        }
    }

    pub(crate) fn greeting_again(tone: Tone) -> String {
        by(
            tone,
            "Tekrar merhaba! Size nasıl yardımcı olabiliriz?",
            "Tekrar merhaba! Sana nasıl yardımcı olabiliriz?",
        )
    }

    fn anything_else(tone: Tone) -> String {
        by(
            tone,
            "Başka bir konuda yardımcı olabileceğimiz bir şey olursa yazmanız yeterli.",
            "Başka bir konuda yardımcı olabileceğimiz bir şey olursa yazman yeterli.",
        )
    }

    pub(crate) fn thanks(tone: Tone) -> String {
        format!("Rica ederiz! {}", anything_else(tone))
    }

    pub(crate) fn goodbye(tone: Tone) -> String {
        by(
            tone,
            "Bize yazdığınız için teşekkür ederiz. İyi günler dileriz!",
            "Bize yazdığın için teşekkür ederiz. İyi günler dileriz!",
        )
    }

    pub(crate) fn affirm(tone: Tone) -> String {
        by(
            tone,
            "Tamamdır! Başka bir sorunuz olursa yazabilirsiniz.",
            "Tamamdır! Başka bir sorun olursa yazabilirsin.",
        )
    }

    pub(crate) fn deny(tone: Tone) -> String {
        format!("Peki, anlaşıldı. {}", anything_else(tone))
    }

    pub(crate) fn handoff_declined(tone: Tone) -> String {
        format!("Peki! {}", anything_else(tone))
    }

    /// Arabic first (the customer's language), then Turkish for the team reading along.
    pub(crate) fn arabic_handoff() -> String {
        "شكرًا لتواصلكم. سيتواصل معكم أحد أعضاء فريقنا في أقرب وقت.\n\
         Mesajınızı aldık; ekibimizden bir arkadaşımız en kısa sürede size dönüş yapacak."
            .to_string()
    }

    pub(crate) fn rephrase(tone: Tone) -> String {
        by(
            tone,
            "Kusura bakmayın, mesajınızı tam anlayamadım. Farklı bir şekilde yazabilir misiniz? \
             Çalışma saatlerimiz, adresimiz ve ödeme seçeneklerimiz hakkında bilgi verebilir \
             ya da sizi bir temsilcimize bağlayabilirim.",
            "Kusura bakma, mesajını tam anlayamadım. Farklı bir şekilde yazabilir misin? \
             Çalışma saatlerimiz, adresimiz ve ödeme seçeneklerimiz hakkında bilgi verebilir \
             ya da seni bir temsilcimize bağlayabilirim.",
        )
    }

    pub(crate) fn offer_handoff(tone: Tone) -> String {
        by(
            tone,
            "Üzgünüm, yine anlayamadım. Sizi bir müşteri temsilcimize bağlamamı ister misiniz?",
            "Üzgünüm, yine anlayamadım. Seni bir müşteri temsilcimize bağlamamı ister misin?",
        )
    }

    pub(crate) fn handoff_lead(tone: Tone) -> String {
        by(
            tone,
            "Sizi bir müşteri temsilcimize aktarıyorum.",
            "Seni bir müşteri temsilcimize aktarıyorum.",
        )
    }

    pub(crate) fn unrecognized_lead(tone: Tone) -> String {
        by(
            tone,
            "Sorunuzu bir çalışma arkadaşıma iletiyorum.",
            "Sorunu bir çalışma arkadaşıma iletiyorum.",
        )
    }

    pub(crate) fn complaint_lead(tone: Tone) -> String {
        by(
            tone,
            "Yaşadığınız sorun için çok üzgünüz. Şikâyetinizi hemen bir çalışma arkadaşıma iletiyorum.",
            "Yaşadığın sorun için çok üzgünüz. Şikâyetini hemen bir çalışma arkadaşıma iletiyorum.",
        )
    }

    /// After a handoff: soon, or at the next opening (`closed_until` = "yarın 09:00'da").
    pub(crate) fn follow_up(tone: Tone, closed_until: Option<&str>) -> String {
        let you = by(tone, "size", "sana");
        match closed_until {
            None => format!("En kısa sürede {you} buradan dönüş yapılacak."),
            Some(when) => format!(
                "Mesai saatlerimiz dışında olduğumuz için ilk açılışımızda, {when}, {you} buradan dönüş yapacağız."
            ),
        }
    }

    pub(crate) fn opted_out(tone: Tone) -> String {
        by(
            tone,
            "Anlaşıldı, artık size mesaj göndermeyeceğiz. İyi günler dileriz.",
            "Anlaşıldı, artık sana mesaj göndermeyeceğiz. İyi günler dileriz.",
        )
    }

    pub(crate) fn open_now(close: Time) -> String {
        if tr::is_end_of_day(close) {
            "Şu an açığız, bugün gece yarısına kadar hizmet veriyoruz.".to_string()
        } else {
            format!(
                "Şu an açığız, bugün {} kadar hizmet veriyoruz.",
                tr::hm_dative(close)
            )
        }
    }

    pub(crate) fn closed_now(when: &str, next: &Zoned) -> String {
        format!(
            "Şu an kapalıyız; {when} {} açılıyoruz.",
            tr::hm_locative(next.time())
        )
    }

    pub(crate) fn hours_missing(tone: Tone) -> String {
        by(
            tone,
            "Çalışma saatlerimizle ilgili bilgiyi bir çalışma arkadaşımız sizinle paylaşacak.",
            "Çalışma saatlerimizle ilgili bilgiyi bir çalışma arkadaşımız seninle paylaşacak.",
        )
    }

    pub(crate) fn location(
        address: &str,
        directions: Option<&str>,
        maps_url: Option<&str>,
    ) -> String {
        let mut text = format!("Adresimiz: {}", address.trim());
        if let Some(d) = directions.map(str::trim).filter(|d| !d.is_empty()) {
            text.push('\n');
            text.push_str(d);
        }
        if let Some(url) = maps_url.map(str::trim).filter(|u| !u.is_empty()) {
            text.push_str("\nHaritada görmek için: ");
            text.push_str(url);
        }
        text
    }

    pub(crate) fn address_missing(tone: Tone) -> String {
        by(
            tone,
            "Adres bilgimizi bir çalışma arkadaşımız sizinle paylaşacak.",
            "Adres bilgimizi bir çalışma arkadaşımız seninle paylaşacak.",
        )
    }

    pub(crate) fn payment(options: &[&str]) -> String {
        let mut text = "Ödeme seçeneklerimiz:".to_string();
        for option in options {
            text.push_str("\n• ");
            text.push_str(option);
        }
        text
    }

    pub(crate) fn payment_missing(tone: Tone) -> String {
        by(
            tone,
            "Ödeme seçeneklerimizle ilgili ayrıntıları bir çalışma arkadaşımız sizinle paylaşacak.",
            "Ödeme seçeneklerimizle ilgili ayrıntıları bir çalışma arkadaşımız seninle paylaşacak.",
        )
    }

    pub(crate) fn noun_message(tone: Tone) -> &'static str {
        match tone {
            Tone::Siz => "Mesajınız",
            Tone::Sen => "Mesajın",
        }
    }

    /// `noun` is "Fotoğrafınız", "Konumun", …: what was sent, with its possessive.
    pub(crate) fn attachment(tone: Tone, noun: &str) -> String {
        let rest = by(
            tone,
            "Şu an yalnızca yazılı mesajları okuyabiliyorum; sorunuzu yazarak iletebilir ya da \
             bir temsilcimizle görüşmek istediğinizi yazabilirsiniz.",
            "Şu an yalnızca yazılı mesajları okuyabiliyorum; sorunu yazarak iletebilir ya da \
             bir temsilcimizle görüşmek istediğini yazabilirsin.",
        );
        format!("{noun} için teşekkürler. {rest}")
    }
}
