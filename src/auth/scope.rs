//! The eight scopes and sets of them, stored as a bitmask.

use std::fmt;

/// One of the eight scopes: read or write on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope(u8);

/// Every scope, in display order.
pub const ALL_SCOPES: [&str; 8] = [
    "leads:read",
    "leads:write",
    "jobs:read",
    "jobs:write",
    "invoices:read",
    "invoices:write",
    "appointments:read",
    "appointments:write",
];

impl Scope {
    /// Parses `leads:read` and the like.
    pub fn parse(s: &str) -> Option<Scope> {
        ALL_SCOPES
            .iter()
            .position(|n| *n == s)
            .map(|i| Scope(i as u8))
    }

    /// The scope's name, e.g. `leads:read`.
    pub fn name(self) -> &'static str {
        ALL_SCOPES[usize::from(self.0)]
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of scopes. Stored in the database as its bitmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ScopeSet(u8);

impl ScopeSet {
    /// All eight scopes.
    pub const ALL: ScopeSet = ScopeSet(0xff);
    /// No scope.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// From the stored bitmask; unknown bits are dropped.
    pub fn from_bits(bits: i64) -> ScopeSet {
        ScopeSet((bits & 0xff) as u8)
    }

    /// The stored bitmask.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// Parses a list of names; the first unknown name is the error.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<ScopeSet, String> {
        let mut set = ScopeSet::EMPTY;
        for n in names {
            let s = Scope::parse(n.trim()).ok_or_else(|| n.to_owned())?;
            set = set.with(s);
        }
        Ok(set)
    }

    /// This set plus `s`.
    pub fn with(self, s: Scope) -> ScopeSet {
        ScopeSet(self.0 | (1 << s.0))
    }

    /// True when `s` is in the set.
    pub fn contains(self, s: Scope) -> bool {
        self.0 & (1 << s.0) != 0
    }

    /// The scopes in both sets.
    pub fn intersect(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & other.0)
    }

    /// True when every scope of `self` is in `other`.
    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes in `self` but not in `other`.
    pub fn minus(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & !other.0)
    }

    /// True when the set has no scope.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names, in display order.
    pub fn names(self) -> Vec<&'static str> {
        (0..8u8)
            .map(Scope)
            .filter(|s| self.contains(*s))
            .map(Scope::name)
            .collect()
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_named() {
        let set = ScopeSet::parse(["leads:read", "jobs:write"]).unwrap();
        assert_eq!(set.names(), ["leads:read", "jobs:write"]);
        assert_eq!(
            ScopeSet::parse(["leads:read", "leads:admin"]),
            Err("leads:admin".into())
        );
        assert_eq!(ScopeSet::ALL.names(), ALL_SCOPES);
    }

    #[test]
    fn intersection_and_subset_follow_set_rules() {
        let a = ScopeSet::parse(["leads:read", "leads:write"]).unwrap();
        let b = ScopeSet::parse(["leads:read"]).unwrap();
        assert_eq!(a.intersect(b), b);
        assert!(b.is_subset_of(a));
        assert!(!a.is_subset_of(b));
        assert_eq!(a.minus(b).names(), ["leads:write"]);
    }
}
