//! RFC 7692 §7.1 parameter negotiation for both roles.
//!
//! Parameters are independent of each other, so a response is checked
//! parameter by parameter against everything the client offered: a server
//! may accept any one of several offers, and what the client then does
//! (compress within the answered limits, keep its own promises) does not
//! depend on which offer was picked.

use crate::{ExtensionOffer, ExtensionParam};

use super::config::{DeflateConfig, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use super::{DeflateNegotiationError, PerMessageDeflate};

/// The registered extension name (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// What was agreed for one direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionParams {
    /// The sender starts every message from an empty LZ77 window, so the
    /// receiver may free its decompressor between messages.
    pub no_context_takeover: bool,
    /// The sender's largest LZ77 window as a base-2 logarithm (8–15).
    pub max_window_bits: u8,
}

/// The outcome of a negotiation, from this endpoint's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// How this endpoint compresses the messages it sends.
    pub outgoing: DirectionParams,
    /// How the peer compresses the messages it sends us.
    pub incoming: DirectionParams,
}

/// The parameters of one offer or response, validated.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    Client,
    Server,
}

/// Whether `offer` names permessage-deflate. Extension tokens compare
/// case-insensitively like every HTTP token.
fn is_deflate(offer: &ExtensionOffer) -> bool {
    offer.name.eq_ignore_ascii_case(EXTENSION_NAME)
}

/// RFC 7692 §7.1.2: "a decimal integer value without leading zeroes
/// between 8 to 15, inclusive". Quotes were already removed by the header
/// parser (RFC 6455 §9.1 allows a quoted token).
fn parse_window_bits(value: &str) -> Option<u8> {
    let valid_digits = !value.is_empty()
        && value.len() <= 2
        && value.bytes().all(|b| b.is_ascii_digit())
        && !value.starts_with('0');
    if !valid_digits {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (MIN_WINDOW_BITS..=MAX_WINDOW_BITS)
        .contains(&bits)
        .then_some(bits)
}

fn invalid(param: &ExtensionParam) -> DeflateNegotiationError {
    DeflateNegotiationError::InvalidValue {
        name: param.name.clone(),
        value: param.value.clone(),
    }
}

/// Parses and validates the parameters of one element. RFC 7692 §7: an
/// offer or response with an unknown parameter, a duplicated parameter or
/// an invalid value is declined (server) or fails the connection (client).
fn parse_params(
    params: &[ExtensionParam],
    sender: Sender,
) -> Result<Params, DeflateNegotiationError> {
    let mut parsed = Params::default();
    let mut seen: [bool; 4] = [false; 4];
    for param in params {
        let name = param.name.to_ascii_lowercase();
        let slot = match name.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER => 0,
            CLIENT_NO_CONTEXT_TAKEOVER => 1,
            SERVER_MAX_WINDOW_BITS => 2,
            CLIENT_MAX_WINDOW_BITS => 3,
            _ => {
                return Err(DeflateNegotiationError::UnknownParameter(
                    param.name.clone(),
                ))
            }
        };
        // RFC 7692 §7: an element with duplicate parameters is invalid.
        if std::mem::replace(&mut seen[slot], true) {
            return Err(DeflateNegotiationError::DuplicateParameter(
                param.name.clone(),
            ));
        }
        let value = param.value.as_deref();
        match slot {
            // RFC 7692 §7.1.1: the *_no_context_takeover parameters have no value.
            0 | 1 if value.is_some() => return Err(invalid(param)),
            0 => parsed.server_no_context_takeover = true,
            1 => parsed.client_no_context_takeover = true,
            // RFC 7692 §7.1.2.1: server_max_window_bits always has a value.
            2 => {
                let bits = value
                    .and_then(parse_window_bits)
                    .ok_or_else(|| invalid(param))?;
                parsed.server_max_window_bits = Some(bits);
            }
            // RFC 7692 §7.1.2.2: optional in an offer, required in a response.
            _ => {
                let bits = match value {
                    None if sender == Sender::Client => None,
                    None => return Err(invalid(param)),
                    Some(text) => Some(parse_window_bits(text).ok_or_else(|| invalid(param))?),
                };
                parsed.client_max_window_bits = Some(bits);
            }
        }
    }
    Ok(parsed)
}

impl Params {
    fn into_offer(self) -> ExtensionOffer {
        let mut offer = ExtensionOffer::new(EXTENSION_NAME);
        if self.server_no_context_takeover {
            offer = offer.with_param(SERVER_NO_CONTEXT_TAKEOVER, None::<String>);
        }
        if self.client_no_context_takeover {
            offer = offer.with_param(CLIENT_NO_CONTEXT_TAKEOVER, None::<String>);
        }
        if let Some(bits) = self.server_max_window_bits {
            offer = offer.with_param(SERVER_MAX_WINDOW_BITS, Some(bits.to_string()));
        }
        if let Some(bits) = self.client_max_window_bits {
            offer = offer.with_param(CLIENT_MAX_WINDOW_BITS, bits.map(|b| b.to_string()));
        }
        offer
    }
}

/// Whether `answer` is a valid acceptance of `offer` (RFC 7692 §7.1).
fn check_answer(offer: &Params, answer: &Params) -> Result<(), DeflateNegotiationError> {
    // RFC 7692 §7.1.1.1 and §7.1.2.1: the server accepts a request for its
    // own behaviour by including the parameter in the response.
    if offer.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err(DeflateNegotiationError::RequestIgnored(
            SERVER_NO_CONTEXT_TAKEOVER,
        ));
    }
    match (offer.server_max_window_bits, answer.server_max_window_bits) {
        (Some(_), None) => {
            return Err(DeflateNegotiationError::RequestIgnored(
                SERVER_MAX_WINDOW_BITS,
            ))
        }
        // The same or a smaller value than offered.
        (Some(offered), Some(answered)) if answered > offered => {
            return Err(DeflateNegotiationError::WindowTooLarge {
                name: SERVER_MAX_WINDOW_BITS,
                offered,
                answered,
            })
        }
        // A server may limit its window unasked.
        _ => {}
    }
    // RFC 7692 §7.1.2.2: the response MUST NOT include
    // client_max_window_bits unless the offer did, and answers the offered
    // value or a smaller one.
    if let Some(Some(answered)) = answer.client_max_window_bits {
        let offered = offer
            .client_max_window_bits
            .ok_or(DeflateNegotiationError::NotOffered(CLIENT_MAX_WINDOW_BITS))?
            .unwrap_or(MAX_WINDOW_BITS);
        if answered > offered {
            return Err(DeflateNegotiationError::WindowTooLarge {
                name: CLIENT_MAX_WINDOW_BITS,
                offered,
                answered,
            });
        }
    }
    Ok(())
}

impl DeflateConfig {
    /// The parameters of each offer, most preferred first.
    fn client_offer_params(&self) -> Vec<Params> {
        // Promises about our own compressor. RFC 7692 §7.1.1.2 and §7.1.2.2
        // make them hints the client keeps whatever the server answers, so
        // every offer may carry them. A bare client_max_window_bits tells the
        // server it may shrink our window.
        let hints = Params {
            client_no_context_takeover: self.no_context_takeover,
            client_max_window_bits: Some(
                (self.max_window_bits < MAX_WINDOW_BITS).then_some(self.max_window_bits),
            ),
            ..Params::default()
        };
        let preferred = Params {
            server_no_context_takeover: self.request_peer_no_context_takeover,
            server_max_window_bits: (self.peer_max_window_bits < MAX_WINDOW_BITS)
                .then_some(self.peer_max_window_bits),
            ..hints.clone()
        };
        let mut offers = vec![preferred];
        if !self.fallback_offers {
            return offers;
        }
        for fallback in [hints, Params::default()] {
            if !offers.contains(&fallback) {
                offers.push(fallback);
            }
        }
        offers
    }

    /// The `Sec-WebSocket-Extensions` offers a client sends, most preferred
    /// first: our requests for the server plus promises about our own
    /// compressor, then the promises alone, then a bare
    /// `permessage-deflate` that every server supports. Duplicates are
    /// left out; without [`DeflateConfig::fallback_offers`] only the first
    /// is sent.
    pub fn client_offers(&self) -> Vec<ExtensionOffer> {
        self.client_offer_params()
            .into_iter()
            .map(Params::into_offer)
            .collect()
    }

    /// Checks the server's `Sec-WebSocket-Extensions` response against
    /// [`DeflateConfig::client_offers`] and builds the extension.
    ///
    /// Elements for other extensions are ignored (the handshake checks
    /// those). `Ok(None)`: the server declined compression. An error means
    /// the client must fail the connection (RFC 7692 §7).
    ///
    /// The response must be a valid acceptance of one of the offers: it
    /// answers every request of that offer and never a larger window than
    /// offered. A `server_max_window_bits` the client did not ask for is
    /// accepted: RFC 7692 §7.1.2.1 lets a server shrink its own window
    /// unasked, and a larger decompression window decodes a smaller one.
    /// With fallback offers, a server may therefore ignore our requests by
    /// accepting a fallback; turn [`DeflateConfig::fallback_offers`] off to
    /// make them binding.
    pub fn client_accept(
        &self,
        response: &[ExtensionOffer],
    ) -> Result<Option<PerMessageDeflate>, DeflateNegotiationError> {
        let mut elements = response.iter().filter(|element| is_deflate(element));
        let Some(element) = elements.next() else {
            return Ok(None);
        };
        // RFC 7692 §5: a server accepts at most one offer.
        if elements.next().is_some() {
            return Err(DeflateNegotiationError::MultipleResponses);
        }
        let answer = parse_params(&element.params, Sender::Server)?;
        // The answer must accept one of our offers. If none matches, report
        // a window or parameter violation over an ignored request: the
        // server most likely meant to accept a fallback offer.
        let mut mismatches = Vec::new();
        for offer in self.client_offer_params() {
            match check_answer(&offer, &answer) {
                Ok(()) => {
                    mismatches.clear();
                    break;
                }
                Err(mismatch) => mismatches.push(mismatch),
            }
        }
        if let Some(first) = mismatches.first() {
            let worst = mismatches
                .iter()
                .find(|m| !matches!(m, DeflateNegotiationError::RequestIgnored(_)))
                .unwrap_or(first);
            return Err(worst.clone());
        }

        let params = DeflateParams {
            outgoing: DirectionParams {
                // Our own promise holds even if the server did not echo it.
                no_context_takeover: self.no_context_takeover || answer.client_no_context_takeover,
                max_window_bits: answer
                    .client_max_window_bits
                    .flatten()
                    .map_or(self.max_window_bits, |bits| bits.min(self.max_window_bits)),
            },
            incoming: DirectionParams {
                no_context_takeover: answer.server_no_context_takeover,
                max_window_bits: answer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
            },
        };
        Ok(Some(PerMessageDeflate::new(params, self)))
    }

    /// Picks the first permessage-deflate offer that is valid and builds the
    /// response element for `Sec-WebSocket-Extensions` with the extension.
    ///
    /// Offers with unknown, duplicated or malformed parameters are declined
    /// and the next one is tried (RFC 7692 §7); `None` means no offer was
    /// acceptable and the server answers without permessage-deflate. Every
    /// valid offer can be honoured, including window bits of 8 (see the
    /// module docs).
    ///
    /// The response never holds a client parameter the client did not
    /// offer: `client_max_window_bits` only if the offer carried it (RFC
    /// 7692 §7.1.2.2 requires that), `client_no_context_takeover` only if the
    /// offer carried it (the RFC would allow it unasked, Node's `ws` client
    /// refuses it). So when the client did not offer them, the client's
    /// window cannot be limited and our decompressor uses 32 KiB whatever
    /// [`DeflateConfig::peer_max_window_bits`] says, and it keeps the
    /// client's context between messages whatever
    /// [`DeflateConfig::request_peer_no_context_takeover`] says. The server's
    /// own limits (`server_no_context_takeover`, `server_max_window_bits`)
    /// are always announced, asked or not, as RFC 7692 §7.1.1.1 and §7.1.2.1
    /// allow (Node's `ws` client accepts both).
    pub fn server_negotiate(
        &self,
        offers: &[ExtensionOffer],
    ) -> Option<(ExtensionOffer, PerMessageDeflate)> {
        offers
            .iter()
            .filter(|offer| is_deflate(offer))
            .find_map(|offer| parse_params(&offer.params, Sender::Client).ok())
            .map(|offer| self.answer(&offer))
    }

    fn answer(&self, offer: &Params) -> (ExtensionOffer, PerMessageDeflate) {
        // RFC 7692 §7.1.1.1: the server accepts server_no_context_takeover
        // by including it, and may include it unasked.
        let our_no_context_takeover = self.no_context_takeover || offer.server_no_context_takeover;
        // RFC 7692 §7.1.2.1: the same or a smaller value than offered.
        let our_window = offer
            .server_max_window_bits
            .map_or(self.max_window_bits, |bits| bits.min(self.max_window_bits));
        // RFC 7692 §7.1.1.2: an offered client_no_context_takeover is a
        // promise from the client, and we echo it. The RFC also lets a server
        // add it unasked, but Node's `ws` client configured with
        // `clientNoContextTakeover: false` (its documented default) then
        // fails the handshake ("Invalid Sec-WebSocket-Extensions header"), so
        // for interoperability we never send it unasked: without the offer
        // our decompressor keeps the client's context
        // ([`DeflateConfig::request_peer_no_context_takeover`] has no effect).
        let peer_no_context_takeover = offer.client_no_context_takeover;
        // RFC 7692 §7.1.2.2: only answer client_max_window_bits when offered,
        // with the offered value or less; an offered value binds the client
        // even if we do not answer it.
        let peer_window = match offer.client_max_window_bits {
            None => MAX_WINDOW_BITS,
            Some(offered) => offered
                .unwrap_or(MAX_WINDOW_BITS)
                .min(self.peer_max_window_bits),
        };
        let response = Params {
            server_no_context_takeover: our_no_context_takeover,
            client_no_context_takeover: peer_no_context_takeover,
            server_max_window_bits: (offer.server_max_window_bits.is_some()
                || our_window < MAX_WINDOW_BITS)
                .then_some(our_window),
            client_max_window_bits: (offer.client_max_window_bits.is_some()
                && peer_window < MAX_WINDOW_BITS)
                .then_some(Some(peer_window)),
        };
        let params = DeflateParams {
            outgoing: DirectionParams {
                no_context_takeover: our_no_context_takeover,
                max_window_bits: our_window,
            },
            incoming: DirectionParams {
                no_context_takeover: peer_no_context_takeover,
                max_window_bits: peer_window,
            },
        };
        (response.into_offer(), PerMessageDeflate::new(params, self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bits_syntax_follows_rfc_7692() {
        for bits in 8..=15u8 {
            assert_eq!(parse_window_bits(&bits.to_string()), Some(bits));
        }
        for bad in ["", "7", "16", "08", "010", "+9", "9 ", "a", "255", "-8"] {
            assert_eq!(parse_window_bits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn response_requires_a_client_window_value() {
        let params = [ExtensionParam::new(CLIENT_MAX_WINDOW_BITS, None::<String>)];
        assert!(parse_params(&params, Sender::Client).is_ok());
        assert!(matches!(
            parse_params(&params, Sender::Server),
            Err(DeflateNegotiationError::InvalidValue { .. })
        ));
    }

    #[test]
    fn duplicates_are_detected_case_insensitively() {
        let params = [
            ExtensionParam::new("Server_No_Context_Takeover", None::<String>),
            ExtensionParam::new(SERVER_NO_CONTEXT_TAKEOVER, None::<String>),
        ];
        assert_eq!(
            parse_params(&params, Sender::Client),
            Err(DeflateNegotiationError::DuplicateParameter(
                SERVER_NO_CONTEXT_TAKEOVER.into()
            ))
        );
    }
}
