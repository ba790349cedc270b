//! `ip("...")` matching: a single address, an inclusive range `a-b`, or a CIDR block, for
//! IPv4 and IPv6. Used by line filters (any address in the line) and label filters.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpMatcher {
    low: IpAddr,
    high: IpAddr,
}

impl IpMatcher {
    pub fn new(pattern: &str) -> Result<IpMatcher, String> {
        let pattern = pattern.trim();
        let bad = |why: &str| format!("invalid ip pattern {pattern:?}: {why}");
        if let Some((addr, bits)) = pattern.split_once('/') {
            let addr: IpAddr = addr.trim().parse().map_err(|_| bad("bad address"))?;
            let bits: u32 = bits.trim().parse().map_err(|_| bad("bad prefix length"))?;
            let (low, high) = match addr {
                IpAddr::V4(a) => {
                    if bits > 32 {
                        return Err(bad("prefix length above 32"));
                    }
                    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                    let base = u32::from(a) & mask;
                    (
                        IpAddr::from((base).to_be_bytes()),
                        IpAddr::from((base | !mask).to_be_bytes()),
                    )
                }
                IpAddr::V6(a) => {
                    if bits > 128 {
                        return Err(bad("prefix length above 128"));
                    }
                    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                    let base = u128::from(a) & mask;
                    (
                        IpAddr::from(base.to_be_bytes()),
                        IpAddr::from((base | !mask).to_be_bytes()),
                    )
                }
            };
            return Ok(IpMatcher { low, high });
        }
        if let Some((a, b)) = pattern.split_once('-') {
            let low: IpAddr = a.trim().parse().map_err(|_| bad("bad range start"))?;
            let high: IpAddr = b.trim().parse().map_err(|_| bad("bad range end"))?;
            if low.is_ipv4() != high.is_ipv4() {
                return Err(bad("range mixes IPv4 and IPv6"));
            }
            if low > high {
                return Err(bad("range start after range end"));
            }
            return Ok(IpMatcher { low, high });
        }
        let ip: IpAddr = pattern.parse().map_err(|_| bad("not an IP address"))?;
        Ok(IpMatcher { low: ip, high: ip })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.low.is_ipv4() && self.low <= ip && ip <= self.high
    }

    /// Whether any address written in `text` is in the pattern. Addresses are taken from
    /// maximal runs of address characters, so `93.180.71.3` never matches `3.180.71.3`.
    pub fn matches_text(&self, text: &str) -> bool {
        let is_addr_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
        text.split(|c: char| !is_addr_char(c))
            .filter(|run| run.len() >= 2)
            .any(|run| self.matches_run(run))
    }

    fn matches_run(&self, run: &str) -> bool {
        let trimmed = run.trim_end_matches('.');
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return self.contains(ip);
        }
        // `10.0.0.1:8080` and similar: an IPv4 address next to colons.
        run.split(':')
            .filter_map(|part| part.trim_end_matches('.').parse::<IpAddr>().ok())
            .any(|ip| self.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_range_and_cidr() {
        let m = IpMatcher::new("192.168.4.5/16").unwrap();
        assert!(m.matches_text("from 192.168.200.1 ok"));
        assert!(!m.matches_text("from 192.169.0.1 ok"));
        let r = IpMatcher::new("192.168.4.5-192.168.4.20").unwrap();
        assert!(r.matches_text("192.168.4.7"));
        assert!(!r.matches_text("192.168.4.21"));
        let s = IpMatcher::new("3.180.71.3").unwrap();
        assert!(s.matches_text("3.180.71.3 - - [17/May/2015:08:05:32 +0000]"));
        assert!(!s.matches_text("93.180.71.3 - - [17/May/2015:08:05:26 +0000]"));
        assert!(s.matches_text("addr=3.180.71.3:443."));
        let v6 = IpMatcher::new("2001:db8::/32").unwrap();
        assert!(v6.matches_text("client 2001:db8::1 connected"));
        assert!(!v6.matches_text("client 2001:db9::1 connected"));
        assert!(IpMatcher::new("nope").is_err());
        assert!(IpMatcher::new("10.0.0.1-::1").is_err());
    }
}
