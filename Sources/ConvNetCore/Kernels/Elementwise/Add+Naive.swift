extension Naive {
    /// Elementwise sum of two arrays of the same count: `y[i] = a[i] + b[i]` (the
    /// residual connection `a[l+2] = g(z[l+2] + a[l])` adds the shortcut this way).
    /// Its gradient passes `dy` unchanged to both inputs, so it needs no backward kernel.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func add<T: BinaryFloatingPoint>(_ a: [T], _ b: [T]) -> [T] {
        checkCount(b.count, equals: a.count, "b", in: "add")
        var y = [T](repeating: 0, count: a.count)
        for i in a.indices {
            y[i] = a[i] + b[i]
        }
        return y
    }
}
