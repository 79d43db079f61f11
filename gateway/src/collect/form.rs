//! `application/x-www-form-urlencoded` pairs (a gtag query string or body line), decoded
//! exactly as `form_urlencoded::parse` decodes them, in one pass per name or value.
//!
//! Why not `form_urlencoded` itself: it scans each part three times (for `+`, for `%`,
//! then a lossy UTF-8 pass through `Utf8Chunks`) and copies a part that has both a `+` and
//! a `%` twice; a gtag hit has ~25 parameters, many percent-encoded, on every request. Here
//! a part without `+` or `%` is borrowed after the standard library's UTF-8 check, and one
//! that needs decoding is decoded in one copy. A property test holds the output equal to
//! `form_urlencoded::parse` for any input.

use std::borrow::Cow;

use crate::event::Parameters;

/// The decoded `name=value` pairs of `input`, in order: `&`-separated, empty sequences
/// skipped, a pair without `=` has an empty value, repeated names all kept. `+` is a space,
/// `%XX` a byte (a `%` not followed by two hex digits stays as it is), and bytes that are
/// not UTF-8 become U+FFFD. ([`raw_pairs`] and [`decode`], as the parser reads them; the
/// property test below holds this to `form_urlencoded`.)
#[cfg(test)]
pub(crate) fn pairs(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    raw_pairs(input).map(|(name, value)| (name.into_str(), decode(value)))
}

/// [`pairs`] with only the names decoded: each value as sent, for [`decode`] to decode
/// if and when it is read.
pub(crate) fn raw_pairs(input: &[u8]) -> impl Iterator<Item = (Name<'_>, &[u8])> {
    Sequences { rest: input }.map(|sequence| {
        let name = if sequence.name_escaped || !sequence.name_ascii {
            Name::Decoded(decode(sequence.name))
        } else {
            Name::Ascii(sequence.name)
        };
        (name, sequence.value)
    })
}

/// A pair's name, decoded. Most names are compared, never read as text (a page view's
/// twenty are looked at for `v`, `en` and item indexes only), so an ASCII name without
/// escapes is kept as its bytes and checked as UTF-8 only when it is read as text.
#[derive(Debug, Clone)]
pub(crate) enum Name<'a> {
    /// ASCII as sent: no `+`, `%` or byte above 0x7F.
    Ascii(&'a [u8]),
    /// Anything else, decoded as [`decode`] decodes it.
    Decoded(Cow<'a, str>),
}

impl<'a> Name<'a> {
    /// The name's bytes (UTF-8 either way).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Ascii(bytes) => bytes,
            Name::Decoded(text) => text.as_bytes(),
        }
    }

    /// The name as text.
    pub(crate) fn as_str(&self) -> Cow<'_, str> {
        match self {
            Name::Ascii(bytes) => utf8(bytes),
            Name::Decoded(text) => Cow::Borrowed(text),
        }
    }

    /// The name as text, owned or borrowed from the input.
    #[cfg(test)]
    pub(crate) fn into_str(self) -> Cow<'a, str> {
        match self {
            Name::Ascii(bytes) => utf8(bytes),
            Name::Decoded(text) => text,
        }
    }
}

/// One `name=value` sequence of a form, neither part decoded.
struct Sequence<'a> {
    name: &'a [u8],
    value: &'a [u8],
    /// Whether the name holds a `+` or `%` (found while looking for its end, so a name
    /// without one is not scanned again before it is borrowed).
    name_escaped: bool,
    /// Whether every byte of the name is ASCII (found in the same scan).
    name_ascii: bool,
}

/// The `name=value` sequences of a form: `&`-separated, empty sequences skipped, a
/// sequence without `=` a name with an empty value. Each byte of a name is looked at once
/// (for its end and for escapes together) and a value's end is found with `memchr`: a
/// gtag hit has ~25 sequences on every request.
struct Sequences<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Sequences<'a> {
    type Item = Sequence<'a>;

    fn next(&mut self) -> Option<Sequence<'a>> {
        loop {
            let input = self.rest;
            if input.is_empty() {
                return None;
            }
            let mut name_escaped = false;
            let mut name_ascii = true;
            let mut name_end = input.len();
            for (at, &byte) in input.iter().enumerate() {
                match byte {
                    b'=' | b'&' => {
                        name_end = at;
                        break;
                    }
                    b'+' | b'%' => name_escaped = true,
                    0x80.. => name_ascii = false,
                    _ => {}
                }
            }
            let (name, after_name) = input.split_at(name_end);
            let (value, rest) = match after_name.split_first() {
                Some((b'=', after)) => match memchr::memchr(b'&', after) {
                    Some(end) => (&after[..end], &after[end + 1..]),
                    None => (after, &[][..]),
                },
                // `&` right after the name (or the end): no value.
                Some((_, after)) => (&[][..], after),
                None => (&[][..], &[][..]),
            };
            self.rest = rest;
            // An empty sequence (`&&`, a leading or trailing `&`) is skipped.
            if name.is_empty() && after_name.first() != Some(&b'=') {
                continue;
            }
            return Some(Sequence {
                name,
                value,
                name_escaped,
                name_ascii,
            });
        }
    }
}

/// The value of the first pair of `input` named `name`, decoded (as [`pairs`] would give
/// it): names are decoded until one matches, and only that value.
pub(crate) fn first<'a>(input: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    raw_pairs(input)
        .find(|(pair_name, _)| pair_name.as_bytes() == name.as_bytes())
        .map(|(_, value)| decode(value))
}

/// The most pairs `input` can hold (one more than its `&`s), to size a collection once.
pub(crate) fn most_pairs(input: &[u8]) -> usize {
    memchr::memchr_iter(b'&', input).count() + 1
}

/// One name or value decoded; borrowed when it needs no decoding and is valid UTF-8.
pub(crate) fn decode(part: &[u8]) -> Cow<'_, str> {
    if !needs_unescaping(part) {
        return utf8(part);
    }
    let mut decoded = Vec::with_capacity(part.len());
    unescape(part, &mut decoded);
    match String::from_utf8(decoded) {
        Ok(text) => Cow::Owned(text),
        Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

/// The pairs of `input` (decoded as [`pairs`] decodes them) in one [`Parameters`]: each
/// part is written straight into its shared string.
pub(crate) fn parameters(input: &[u8]) -> Parameters {
    let mut parameters = Parameters::with_capacity(most_pairs(input), input.len());
    let mut scratch = Vec::new();
    for Sequence { name, value, .. } in (Sequences { rest: input }) {
        parameters.push_with(name, value, |part, text| {
            decode_into(part, text, &mut scratch);
        });
    }
    parameters
}

/// [`decode`], appended to `text`; `scratch` holds unescaped bytes until they are checked.
fn decode_into(part: &[u8], text: &mut String, scratch: &mut Vec<u8>) {
    let bytes = if needs_unescaping(part) {
        scratch.clear();
        unescape(part, scratch);
        scratch.as_slice()
    } else {
        part
    };
    match std::str::from_utf8(bytes) {
        Ok(decoded) => text.push_str(decoded),
        Err(_) => text.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// A part that needs no unescaping: borrowed when it is valid UTF-8.
fn utf8(part: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(part) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(part),
    }
}

fn needs_unescaping(part: &[u8]) -> bool {
    part.iter().any(|&byte| byte == b'+' || byte == b'%')
}

/// `+` as a space and `%XX` as its byte, appended to `decoded`.
fn unescape(part: &[u8], decoded: &mut Vec<u8>) {
    let mut rest = part;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => decoded.push(b' '),
            b'%' => match escaped_byte(rest) {
                Some(value) => {
                    decoded.push(value);
                    rest = &rest[2..];
                }
                None => decoded.push(b'%'),
            },
            other => decoded.push(other),
        }
    }
}

/// The byte two hex digits at the start of `rest` stand for.
fn escaped_byte(rest: &[u8]) -> Option<u8> {
    match rest {
        [high, low, ..] => Some(hex_digit(*high)? << 4 | hex_digit(*low)?),
        _ => None,
    }
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decoded(input: &str) -> Vec<(String, String)> {
        pairs(input.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn plus_is_a_space_and_an_encoded_plus_is_a_plus() {
        assert_eq!(
            decoded("dt=Dog+Bowls&q=1%2B1"),
            [pair("dt", "Dog Bowls"), pair("q", "1+1")]
        );
    }

    #[test]
    fn a_percent_without_two_hex_digits_stays_as_it_is() {
        assert_eq!(
            decoded("a=100%&b=%4&c=%zz&d=%4g&e=%41"),
            [
                pair("a", "100%"),
                pair("b", "%4"),
                pair("c", "%zz"),
                pair("d", "%4g"),
                pair("e", "A")
            ]
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(decoded("dt=%FF%FEok"), [pair("dt", "\u{FFFD}\u{FFFD}ok")]);
        assert_eq!(
            pairs(b"dt=\xFFok").next().map(|(_, v)| v.into_owned()),
            Some("\u{FFFD}ok".to_string())
        );
        assert_eq!(decoded("dt=%C3%A9"), [pair("dt", "é")]);
    }

    #[test]
    fn repeated_names_empty_values_and_empty_sequences_are_kept_or_skipped_as_forms_are() {
        assert_eq!(
            decoded("&en=a&&en=b&uam=&flag&=v&"),
            [
                pair("en", "a"),
                pair("en", "b"),
                pair("uam", ""),
                pair("flag", ""),
                pair("", "v")
            ]
        );
    }

    #[test]
    fn parts_that_need_no_decoding_are_borrowed() {
        let mut decoded = pairs(b"cid=123.456&dl=https%3A%2F%2Fshop");
        assert!(matches!(
            decoded.next(),
            Some((Cow::Borrowed("cid"), Cow::Borrowed("123.456")))
        ));
        assert!(matches!(
            decoded.next(),
            Some((Cow::Borrowed("dl"), Cow::Owned(value))) if value == "https://shop"
        ));
    }

    #[test]
    fn parameters_hold_every_pair_in_order_and_find_the_first_of_a_name() {
        let parameters = parameters(b"&en=a&&en=b&uam=&dl=https%3A%2F%2Fshop&flag");
        let all: Vec<_> = parameters.iter().collect();
        assert_eq!(
            all,
            [
                ("en", "a"),
                ("en", "b"),
                ("uam", ""),
                ("dl", "https://shop"),
                ("flag", "")
            ]
        );
        assert_eq!(parameters.first("en"), Some("a"));
        assert_eq!(parameters.first("dl"), Some("https://shop"));
        assert_eq!(parameters.first("cid"), None);
        assert_eq!(parameters.len(), 5);
    }

    proptest! {
        /// Any bytes, weighted towards the characters that matter, decode exactly as
        /// `form_urlencoded::parse` decodes them, and one name's first value as its
        /// first pair there.
        #[test]
        fn decodes_exactly_as_form_urlencoded(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'%'), Just(b'+'), Just(b'&'), Just(b'='),
                    Just(b'a'), Just(b'F'), Just(b'2'), Just(b'C'), Just(b'3'),
                    any::<u8>(),
                ],
                0..64,
            )
        ) {
            let ours: Vec<_> = pairs(&input).collect();
            let theirs: Vec<_> = url::form_urlencoded::parse(&input).collect();
            prop_assert_eq!(&ours, &theirs);
            let shared = parameters(&input);
            let shared: Vec<_> = shared.iter().map(|(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v))).collect();
            prop_assert_eq!(&shared, &theirs);
            for (name, _) in &theirs {
                let expected = theirs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
                prop_assert_eq!(first(&input, name), expected);
            }
        }
    }
}
