//! Send eligibility, computed in one place: whether a message may go out free-form on a
//! channel now, or only as an approved template. WhatsApp: 24 hours from the customer's
//! last message, 72 hours from a click-to-WhatsApp ad (free entry point). Instagram: 24
//! hours, 7 days for a human agent's reply. Telegram and web chat: no window.

use channels::{Channel, OutContent};
use jiff::{SignedDuration, Timestamp};

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// What a channel's rules say about one message now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eligibility {
    /// Send it as it is.
    Send,
    /// Not allowed now; never sent. The reason is recorded on the message.
    Refuse { reason: String },
}

/// The facts eligibility is computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowFacts {
    /// The customer's last message on this channel.
    pub last_inbound_at: Option<Timestamp>,
    /// The customer's last arrival through an ad (click-to-WhatsApp / Instagram ad).
    pub last_referral_at: Option<Timestamp>,
    /// A human agent wrote the message (Instagram's HUMAN_AGENT allowance).
    pub human_agent: bool,
}

/// When the free-form window closes, or `None` when the channel has no window or it has
/// never been opened (no inbound message yet).
pub fn window_closes_at(channel: Channel, facts: &WindowFacts) -> Option<Timestamp> {
    let after = |t: Option<Timestamp>, d: SignedDuration| t.and_then(|t| t.checked_add(d).ok());
    match channel {
        Channel::Whatsapp => {
            let service = after(facts.last_inbound_at, DAY);
            let entry_point = after(facts.last_referral_at, DAY * 3);
            service.max(entry_point)
        }
        Channel::Instagram => {
            let span = if facts.human_agent { DAY * 7 } else { DAY };
            after(facts.last_inbound_at, span)
        }
        Channel::Telegram | Channel::Webchat => None,
    }
}

/// Whether `content` may be sent on `channel` at `now`.
pub fn check(
    channel: Channel,
    content: &OutContent,
    facts: &WindowFacts,
    now: Timestamp,
) -> Eligibility {
    match channel {
        Channel::Telegram | Channel::Webchat => Eligibility::Send,
        Channel::Whatsapp if matches!(content, OutContent::Template { .. }) => Eligibility::Send,
        Channel::Whatsapp | Channel::Instagram => match window_closes_at(channel, facts) {
            Some(closes) if now < closes => Eligibility::Send,
            Some(closes) => Eligibility::Refuse {
                reason: format!(
                    "outside the {} customer service window (closed at {closes}); only an approved template may be sent",
                    match (channel, facts.human_agent) {
                        (Channel::Whatsapp, _) => "WhatsApp 24-hour",
                        (_, true) => "Instagram 7-day human agent",
                        _ => "Instagram 24-hour",
                    }
                ),
            },
            None => Eligibility::Refuse {
                reason: "the customer has not written on this channel; only an approved template may be sent".into(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + h * 3600).unwrap()
    }

    fn text() -> OutContent {
        OutContent::text("merhaba")
    }

    #[test]
    fn whatsapp_free_form_only_within_24_hours_of_the_last_inbound() {
        let facts = WindowFacts {
            last_inbound_at: Some(t(0)),
            ..Default::default()
        };
        assert_eq!(
            check(Channel::Whatsapp, &text(), &facts, t(23)),
            Eligibility::Send
        );
        assert!(matches!(
            check(Channel::Whatsapp, &text(), &facts, t(25)),
            Eligibility::Refuse { .. }
        ));
        assert!(matches!(
            check(Channel::Whatsapp, &text(), &facts, t(24)),
            Eligibility::Refuse { .. }
        ));
        let template = OutContent::Template {
            name: "randevu_hatirlatma".into(),
            language: "tr".into(),
            params: vec![],
        };
        assert_eq!(
            check(Channel::Whatsapp, &template, &facts, t(100)),
            Eligibility::Send
        );
    }

    #[test]
    fn a_click_to_whatsapp_ad_opens_72_hours() {
        let facts = WindowFacts {
            last_inbound_at: Some(t(0)),
            last_referral_at: Some(t(0)),
            human_agent: false,
        };
        assert_eq!(
            check(Channel::Whatsapp, &text(), &facts, t(71)),
            Eligibility::Send
        );
        assert!(matches!(
            check(Channel::Whatsapp, &text(), &facts, t(73)),
            Eligibility::Refuse { .. }
        ));
    }

    #[test]
    fn instagram_gives_human_agents_seven_days() {
        let bot = WindowFacts {
            last_inbound_at: Some(t(0)),
            ..Default::default()
        };
        let human = WindowFacts {
            human_agent: true,
            ..bot
        };
        assert!(matches!(
            check(Channel::Instagram, &text(), &bot, t(30)),
            Eligibility::Refuse { .. }
        ));
        assert_eq!(
            check(Channel::Instagram, &text(), &human, t(30)),
            Eligibility::Send
        );
        assert!(matches!(
            check(Channel::Instagram, &text(), &human, t(24 * 7 + 1)),
            Eligibility::Refuse { .. }
        ));
    }

    #[test]
    fn telegram_and_webchat_have_no_window_and_no_inbound_means_closed() {
        let none = WindowFacts::default();
        assert_eq!(
            check(Channel::Telegram, &text(), &none, t(1000)),
            Eligibility::Send
        );
        assert_eq!(
            check(Channel::Webchat, &text(), &none, t(1000)),
            Eligibility::Send
        );
        assert!(matches!(
            check(Channel::Whatsapp, &text(), &none, t(0)),
            Eligibility::Refuse { .. }
        ));
    }
}
