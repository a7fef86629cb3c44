//! The commerce model: what a shop's customer, orders, shipments, returns and
//! marketplace questions look like, whichever marketplace or carrier they came from.
//! Money is kept in minor units (kuruş) to avoid rounding.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// An amount in minor units (kuruş, cent) with its ISO 4217 currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

impl Money {
    pub fn try_lira(minor: i64) -> Money {
        Money {
            minor,
            currency: "TRY".into(),
        }
    }

    /// Turkish formatting: `1.234,50 ₺` for TRY, `1.234,50 EUR` otherwise.
    pub fn format_tr(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let (whole, frac) = (abs / 100, abs % 100);
        let digits = whole.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push('.');
            }
            grouped.push(c);
        }
        let unit = if self.currency == "TRY" {
            "₺"
        } else {
            &self.currency
        };
        format!("{sign}{grouped},{frac:02} {unit}")
    }
}

/// Where an order came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesChannel {
    OwnShop,
    Hepsiburada,
    Trendyol,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
    /// Size, colour … as the shop names them.
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Created,
    Confirmed,
    Packed,
    Shipped,
    Delivered,
    Cancelled,
    Returned,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub channel: SalesChannel,
    pub customer: Customer,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub placed_at: Timestamp,
}

/// The carriers the cargo integration knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Yurtici,
    Aras,
    Mng,
    Ptt,
    Surat,
    Hepsijet,
    TrendyolExpress,
}

/// Carrier-neutral shipment status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Created,
    InTransit,
    OutForDelivery,
    Delivered,
    DeliveryFailed,
    Returned,
}

impl ShipmentStatus {
    /// How the status reads to a Turkish customer.
    pub fn label_tr(self) -> &'static str {
        match self {
            ShipmentStatus::Created => "kargoya verilmek üzere hazırlandı",
            ShipmentStatus::InTransit => "yolda",
            ShipmentStatus::OutForDelivery => "dağıtımda",
            ShipmentStatus::Delivered => "teslim edildi",
            ShipmentStatus::DeliveryFailed => "teslim edilemedi",
            ShipmentStatus::Returned => "göndericiye iade edildi",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: Carrier,
    pub tracking_number: String,
    pub status: ShipmentStatus,
    pub tracking_url: Option<String>,
    pub updated_at: Timestamp,
}

/// A package of an order (an order may ship in several).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub id: String,
    pub order_id: String,
    pub lines: Vec<OrderLine>,
    pub shipment: Option<Shipment>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    Open,
    AwaitingAction,
    Accepted,
    Rejected,
    Converted,
}

/// A return or other after-sale claim, with the customer's reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub id: String,
    pub order_id: String,
    /// The marketplace's reason text, e.g. "Bedeni/boyutu uymadı".
    pub reason: String,
    pub status: ClaimStatus,
    pub opened_at: Timestamp,
}

/// A customer question on a marketplace ("Satıcıya Sor"), with its answer deadline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub product_sku: Option<String>,
    pub text: String,
    pub asked_at: Timestamp,
    pub answer_by: Timestamp,
    pub answered: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_formatted_the_turkish_way() {
        assert_eq!(Money::try_lira(123_450).format_tr(), "1.234,50 ₺");
        assert_eq!(Money::try_lira(5).format_tr(), "0,05 ₺");
        assert_eq!(Money::try_lira(-100_000_000).format_tr(), "-1.000.000,00 ₺");
        let eur = Money {
            minor: 250_000,
            currency: "EUR".into(),
        };
        assert_eq!(eur.format_tr(), "2.500,00 EUR");
    }

    #[test]
    fn statuses_serialise_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&ShipmentStatus::OutForDelivery).unwrap(),
            "\"out_for_delivery\""
        );
        assert_eq!(ShipmentStatus::OutForDelivery.label_tr(), "dağıtımda");
    }
}
