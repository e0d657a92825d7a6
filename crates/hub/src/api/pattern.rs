//! Channel patterns of the `channels` method: `*` matches any run of
//! characters and `?` any one character (the common part of the gobwas
//! glob syntax Centrifugo uses).

/// Whether `name` matches `pattern`.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // Classic two-pointer glob match with backtracking to the last `*`.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("*", "anything"));
        assert!(matches("news*", "news:sport"));
        assert!(matches("*:sport", "news:sport"));
        assert!(matches("n?ws", "news"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("news", "newsroom"));
        assert!(!matches("a*b", "axxc"));
        assert!(matches("", ""));
        assert!(!matches("?", ""));
    }
}
