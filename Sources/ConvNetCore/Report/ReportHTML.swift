import Foundation

/// The pieces of HTML both report pages are made of: escaping, the page shell and its
/// style, tables, and figures read from disk and embedded (no network, no scripts).
enum ReportHTML {
    /// `text` with `& < > " '` replaced by entities: safe as element text and as a quoted
    /// attribute value.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A relative link target: each path component percent-encoded, `/` kept.
    static func href(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#;")
        return escape(path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path)
    }

    /// The date as the pages show it: `2026-12-02 14:40 UTC`.
    static func displayDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }

    /// A whole page: doctype, UTF-8, the inline style, `body` inside `<main>`.
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        <main>
        \(body)
        </main>
        </body>
        </html>

        """
    }

    /// Readable in any browser and on paper: system fonts, one column of at most 60em,
    /// bordered tables with right-aligned numbers, figures scaled to the column.
    static let style = """
    :root { color-scheme: light; }
    body { margin: 0; background: #f6f6f4; color: #1d1d1f;
      font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
    main { max-width: 60em; margin: 0 auto; padding: 1.5em 2em 3em; background: #fff; min-height: 100vh; box-sizing: border-box; }
    h1 { font-size: 1.8em; line-height: 1.2; margin: 0.3em 0 0.4em; }
    h2 { font-size: 1.3em; margin: 2em 0 0.6em; padding-bottom: 0.2em; border-bottom: 1px solid #ddd; }
    h2 .number { color: #888; font-weight: normal; margin-right: 0.3em; }
    a { color: #0b5cad; }
    code, pre, .mono { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.88em; }
    pre { background: #f4f4f2; border: 1px solid #e2e2de; border-radius: 4px; padding: 0.8em 1em; overflow-x: auto; line-height: 1.35; }
    header.run { border-bottom: 2px solid #1d1d1f; padding-bottom: 1em; }
    header.run .lesson { text-transform: uppercase; letter-spacing: 0.08em; font-size: 0.8em; color: #777; margin: 0; }
    header.run .meta { color: #555; margin: 0.2em 0; }
    header.run .headline { font-size: 1.35em; font-weight: 600; margin: 0.6em 0 0; padding: 0.4em 0.7em; background: #eef5ee; border-left: 4px solid #2e7d32; }
    nav.contents { margin: 1.2em 0; padding: 0.6em 1.2em; background: #fafaf8; border: 1px solid #e6e6e2; border-radius: 4px; }
    nav.contents h2 { font-size: 1em; margin: 0.2em 0 0.3em; border: none; }
    nav.contents ol { margin: 0; padding-left: 1.6em; }
    nav.contents p { margin: 0.5em 0 0.2em; }
    table { border-collapse: collapse; margin: 0.8em 0 1.2em; font-size: 0.92em; }
    caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3em; }
    th, td { border: 1px solid #ccc; padding: 0.25em 0.65em; vertical-align: top; }
    th { background: #f0f0ec; text-align: left; }
    tbody tr:nth-child(even) td { background: #fafaf8; }
    .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    table.values th { font-weight: normal; color: #444; }
    table.runs { width: 100%; }
    td.date { white-space: nowrap; color: #555; }
    figure { margin: 1.2em 0; }
    figure svg, figure img { display: block; max-width: 100%; height: auto; border: 1px solid #e6e6e2; }
    figcaption { color: #555; font-size: 0.92em; margin-top: 0.4em; }
    .missing { padding: 1em; border: 2px dashed #c62828; color: #c62828; background: #fff5f5; font-weight: 600; }
    footer { margin-top: 3em; color: #888; font-size: 0.85em; }
    """

    /// Whether a table cell reads as a number (right-aligned): an optionally signed
    /// decimal with thousands separators or an exponent, then at most a short unit
    /// (`98.6%`, `3.2x`, `12.5 ms`, `1.4e-06`, `61,706`, `+0.3`).
    static func looksNumeric(_ cell: String) -> Bool {
        let text = cell.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return false }
        var scalars = Substring(text).unicodeScalars[...]
        if let first = scalars.first, "+-\u{2212}±~≈".unicodeScalars.contains(first) { scalars = scalars.dropFirst() }
        var digits = 0
        var number = ""
        while let s = scalars.first, CharacterSet.decimalDigits.contains(s) || s == "," || s == "." || s == "_" {
            if CharacterSet.decimalDigits.contains(s) { digits += 1 }
            if s != "," && s != "_" { number.unicodeScalars.append(s) }
            scalars = scalars.dropFirst()
        }
        guard digits > 0, Double(number) != nil else { return false }
        // An exponent: e-06, E+3.
        if let e = scalars.first, e == "e" || e == "E" {
            var rest = scalars.dropFirst()
            if let sign = rest.first, sign == "+" || sign == "-" { rest = rest.dropFirst() }
            let exponentDigits = rest.prefix { CharacterSet.decimalDigits.contains($0) }
            if !exponentDigits.isEmpty { scalars = rest.dropFirst(exponentDigits.count) }
        }
        let unit = String(scalars).trimmingCharacters(in: .whitespaces)
        return unit.count <= 8 && !unit.contains(" ") && !unit.unicodeScalars.contains { CharacterSet.decimalDigits.contains($0) }
    }

    /// A table: header row, body rows; the first column left, numeric cells right.
    static func table(_ table: ReportTable, className: String? = nil) -> String {
        let width = max(table.headers.count, table.rows.map(\.count).max() ?? 0)
        // A header is right-aligned over a column of numbers.
        let numericColumn = (0..<width).map { column in
            column > 0 && table.rows.contains { column < $0.count && looksNumeric($0[column]) }
                && table.rows.allSatisfy { column >= $0.count || $0[column].isEmpty || looksNumeric($0[column]) }
        }
        var out = className.map { "<table class=\"\($0)\">\n" } ?? "<table>\n"
        if let caption = table.caption { out += "<caption>\(escape(caption))</caption>\n" }
        if !table.headers.isEmpty {
            out += "<thead><tr>"
            for (column, header) in table.headers.enumerated() {
                out += numericColumn[column] ? "<th class=\"num\">" : "<th>"
                out += escape(header) + "</th>"
            }
            out += "</tr></thead>\n"
        }
        out += "<tbody>\n"
        for row in table.rows {
            out += "<tr>"
            for (column, cell) in row.enumerated() {
                out += column > 0 && looksNumeric(cell) ? "<td class=\"num\">" : "<td>"
                out += escape(cell) + "</td>"
            }
            out += String(repeating: "<td></td>", count: width - row.count) + "</tr>\n"
        }
        return out + "</tbody>\n</table>\n"
    }

    /// Paragraphs of plain text: blank lines separate them.
    static func paragraphs(_ text: String) -> String {
        var out = ""
        var current: [String] = []
        func flush() {
            if !current.isEmpty { out += "<p>" + escape(current.joined(separator: "\n")) + "</p>\n" }
            current = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { flush() } else { current.append(String(line)) }
        }
        flush()
        return out
    }

    /// A figure: the file `name` of `directory` embedded in the page, or a visible note
    /// when it is missing or cannot be embedded. `index` makes an inlined SVG's ids unique.
    static func figure(_ name: String, caption: String, directory: URL, index: Int) -> String {
        let url = directory.appendingPathComponent(name)
        let captionHTML = "<figcaption>\(escape(caption))</figcaption>\n"
        func missing(_ why: String) -> String {
            "<figure>\n<div class=\"missing\">\(escape(why))</div>\n" + captionHTML + "</figure>\n"
        }
        guard let data = try? FileIO.contents(of: url), !data.isEmpty else { return missing("missing figure \(name)") }
        switch url.pathExtension.lowercased() {
        case "svg":
            guard let text = String(data: data, encoding: .utf8), let svg = inlineSVG(text, idPrefix: "fig\(index)-") else {
                return missing("missing figure \(name) (not an SVG image)")
            }
            return "<figure>\n" + svg + "\n" + captionHTML + "</figure>\n"
        case "png", "jpg", "jpeg", "gif":
            let type = ["jpg": "jpeg"][url.pathExtension.lowercased()] ?? url.pathExtension.lowercased()
            return "<figure>\n<img src=\"data:image/\(type);base64,\(data.base64EncodedString())\" alt=\"\(escape(caption))\">\n"
                + captionHTML + "</figure>\n"
        default:
            return "<figure>\n<p><a href=\"\(href(name))\">\(escape(name))</a></p>\n" + captionHTML + "</figure>\n"
        }
    }

    /// The `<svg>...</svg>` element of an SVG document, ready to sit inside HTML: the XML
    /// prolog, doctype, comments and any script dropped; namespace declarations removed
    /// (HTML knows them, and they are not links); ids prefixed with `idPrefix` (and the
    /// references to them) so that two figures never share an id; a `viewBox` added from
    /// `width` and `height` when there is none, so that CSS can scale it. Nil when there
    /// is no `<svg` element.
    static func inlineSVG(_ document: String, idPrefix: String) -> String? {
        guard let start = document.range(of: "<svg"), let end = document.range(of: "</svg>", options: .backwards),
              start.lowerBound < end.lowerBound else { return nil }
        var svg = String(document[start.lowerBound..<end.upperBound])
        svg = removingElements(svg, open: "<!--", close: "-->")
        svg = removingElements(svg, open: "<script", close: "</script>")
        svg = svg.replacingOccurrences(of: #"\s+xmlns(:[A-Za-z]+)?\s*=\s*("[^"]*"|'[^']*')"#, with: "", options: .regularExpression)
        // Unique ids: id="a" -> id="fig3-a", with url(#a) and href="#a" following.
        let ids = matches(of: #"\sid\s*=\s*"([^"]+)""#, in: svg)
        for id in Set(ids).sorted(by: { $0.count > $1.count }) {
            svg = svg.replacingOccurrences(of: "id=\"\(id)\"", with: "id=\"\(idPrefix)\(id)\"")
                .replacingOccurrences(of: "url(#\(id))", with: "url(#\(idPrefix)\(id))")
                .replacingOccurrences(of: "href=\"#\(id)\"", with: "href=\"#\(idPrefix)\(id)\"")
        }
        // The root tag: add a viewBox when it has only a width and a height.
        if let rootEnd = svg.range(of: ">") {
            let root = String(svg[..<rootEnd.lowerBound])
            if !root.contains("viewBox"),
               let w = matches(of: #"\swidth\s*=\s*"([0-9.]+)(px)?""#, in: root).first,
               let h = matches(of: #"\sheight\s*=\s*"([0-9.]+)(px)?""#, in: root).first {
                svg = "<svg viewBox=\"0 0 \(w) \(h)\"" + svg.dropFirst(4)
            }
        }
        return svg
    }

    /// `text` without every span from `open` to the next `close` (inclusive).
    static func removingElements(_ text: String, open: String, close: String) -> String {
        var out = text
        while let a = out.range(of: open, options: .caseInsensitive) {
            let b = out.range(of: close, options: .caseInsensitive, range: a.upperBound..<out.endIndex)
            out.removeSubrange(a.lowerBound..<(b?.upperBound ?? out.endIndex))
        }
        return out
    }

    /// The first capture group of each match of `pattern`.
    static func matches(of pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).compactMap { match in
            match.numberOfRanges > 1 && match.range(at: 1).location != NSNotFound ? ns.substring(with: match.range(at: 1)) : nil
        }
    }

    /// A JSON text laid out two spaces per level, keys in their order, numbers exactly as
    /// written (re-indented, not re-encoded); nil when `json` is not valid JSON.
    static func prettyJSON(_ json: String) -> String? {
        guard let data = json.data(using: .utf8),
              (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else { return nil }
        var out = ""
        var depth = 0
        var inString = false, escaped = false
        var pendingOpen = false  // just after [ or {: an empty container stays on one line
        func newline() { out += "\n" + String(repeating: "  ", count: depth) }
        for character in json {
            if inString {
                out.append(character)
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
                continue
            }
            if character.isWhitespace { continue }
            if pendingOpen {
                pendingOpen = false
                if character == "}" || character == "]" { out.append(character); depth -= 1; continue }
                newline()
            }
            switch character {
            case "{", "[":
                out.append(character)
                depth += 1
                pendingOpen = true
            case "}", "]":
                depth -= 1
                newline()
                out.append(character)
            case ",":
                out.append(character)
                newline()
            case ":":
                out += ": "
            case "\"":
                inString = true
                out.append(character)
            default:
                out.append(character)
            }
        }
        return out
    }
}
