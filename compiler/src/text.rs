//! Text bounds shared by what Hermes writes into Kubernetes objects (Lease annotations,
//! Event notes), where sizes are limited.

/// `text` cut to at most `max` bytes at a character boundary, with `…` appended when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn short_text_stays_and_long_text_is_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        // "é" is two bytes: a cut inside it moves back before it.
        assert_eq!(truncate("aéb", 2), "a…");
    }
}
