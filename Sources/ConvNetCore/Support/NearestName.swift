/// The valid name nearest to a mistyped one, for "did you mean" messages: every unknown
/// option, command, lesson, network and bench case is answered through this one helper.
public enum NearestName {
    /// The edit distance between `a` and `b` (insertions, deletions, substitutions and
    /// swaps of two neighbouring characters each cost 1), case-insensitive.
    public static func distance(_ a: String, _ b: String) -> Int {
        let s = Array(a.lowercased()), t = Array(b.lowercased())
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        var before = [Int](repeating: 0, count: t.count + 1)   // row i - 2
        var previous = Array(0...t.count)                      // row i - 1
        var current = [Int](repeating: 0, count: t.count + 1)
        for i in 1...s.count {
            current[0] = i
            for j in 1...t.count {
                let cost = s[i - 1] == t[j - 1] ? 0 : 1
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && s[i - 1] == t[j - 2] && s[i - 2] == t[j - 1] { d = min(d, before[j - 2] + 1) }
                current[j] = d
            }
            (before, previous, current) = (previous, current, before)
        }
        return previous[t.count]
    }

    /// The candidate nearest to `name`, if it is near enough to be what was meant: at most
    /// a third of the longer name's characters edited (at least 1, at most 3), or a
    /// candidate that starts with `name` (at least 3 characters typed). Nil otherwise.
    public static func nearest<S: Sequence>(to name: String, among candidates: S) -> String? where S.Element == String {
        // Ties go to the candidate sharing more characters with `name` ("vgg61": vgg16, not vgg11).
        func shared(_ candidate: String) -> Int {
            var counts: [Character: Int] = [:]
            for c in name.lowercased() { counts[c, default: 0] += 1 }
            return candidate.lowercased().reduce(0) { total, c in
                guard let n = counts[c], n > 0 else { return total }
                counts[c] = n - 1
                return total + 1
            }
        }
        var best: (name: String, distance: Int, shared: Int)?
        for candidate in candidates where !candidate.isEmpty {
            var d = distance(name, candidate)
            let limit = min(3, max(1, max(name.count, candidate.count) / 3))
            if d > limit {
                guard name.count >= 3 && candidate.lowercased().hasPrefix(name.lowercased()) else { continue }
                d = limit
            }
            let common = shared(candidate)
            if let b = best, b.distance < d || (b.distance == d && b.shared >= common) { continue }
            best = (candidate, d, common)
        }
        return best?.name
    }

    /// "; did you mean X?" (with `prefix` before X, as in "--"), or "" when nothing is near.
    public static func suggestion<S: Sequence>(for name: String, among candidates: S, prefix: String = "") -> String where S.Element == String {
        guard let match = nearest(to: name, among: candidates) else { return "" }
        return "; did you mean \(prefix)\(match)?"
    }
}
