import Testing
@testable import ConvNetCore

@Suite("Short copies and zero fills by overlapping vector moves")
struct VectorMemoryTests {
    @Test("copyFloats copies exactly count floats, for every count up to 40 and any alignment")
    func copyIsExact() {
        for count in 0...40 {
            for offset in 0..<3 {
                let source = (0..<64).map { Float($0 + 1) }
                var target = [Float](repeating: -1, count: 64)
                source.withUnsafeBufferPointer { s in target.withUnsafeMutableBufferPointer { t in
                    copyFloats(from: s.baseAddress! + offset, to: t.baseAddress! + offset + 1, count: count)
                } }
                for i in 0..<64 {
                    let inside = i >= offset + 1 && i < offset + 1 + count
                    #expect(target[i] == (inside ? source[i - 1] : -1), "count \(count), offset \(offset), index \(i)")
                }
            }
        }
    }

    @Test("zeroFloats zeroes exactly count floats, for every count up to 40")
    func zeroIsExact() {
        for count in 0...40 {
            var target = [Float](repeating: 7, count: 64)
            target.withUnsafeMutableBufferPointer { zeroFloats($0.baseAddress! + 3, count: count) }
            for i in 0..<64 {
                #expect(target[i] == (i >= 3 && i < 3 + count ? 0 : 7), "count \(count), index \(i)")
            }
        }
    }
}
