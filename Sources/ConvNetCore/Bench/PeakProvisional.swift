// PROVISIONAL until the FMA peak measurement lands (replaced by Peak.swift).
public enum FMAPeak {
    public static func measure(threads: Int) -> Double { .nan }
    public static var vectorDescription: String { "unmeasured" }
}
