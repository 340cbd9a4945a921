import Foundation
import Testing
@testable import ConvNetCore

// The report a `lesson run` writes (index.html beside its plots) and the list of runs
// (lesson-output/index.html), as facts about the pages.

/// A small training-curve chart, as the lessons draw them.
private func sampleChart() -> LineChart {
    var chart = LineChart(title: "loss", xLabel: "epoch", yLabel: "cross-entropy")
    chart.series = [.init(name: "training", points: [(1, 2.3), (2, 1.1), (3, 0.6)])]
    return chart
}

/// A report with one of every block, its figures written into `directory` by the
/// project's own writers.
private func sampleReport(in directory: URL) throws -> LessonReport {
    try sampleChart().write(to: directory.appendingPathComponent("curves.svg"))
    var grid = ImageGrid(columns: 2, scale: 2)
    grid.append(width: 3, height: 3, values: (0..<9).map(Float.init))
    grid.append(width: 3, height: 3, values: (0..<9).map { Float(-$0) })
    try PNG.write(grid.image, to: directory.appendingPathComponent("filters.png"))
    var report = LessonReport(lesson: "lenet", title: "LeNet-5 learns handwritten digits", command: "lesson run lenet --seed 1")
    report.headline = "98.6% held-out accuracy"
    report.addStep("The network", [
        .paragraph("C1 sees a 5x5 window.\n\nS2 averages 2x2."),
        .preformatted("layer  output\nc1     6x28x28"),
        .table(ReportTable(caption: "Layers", headers: ["layer", "parameters"], rows: [["c1", "156"], ["total", "61,706"]])),
    ])
    report.addStep("Training", [
        .figure(file: "curves.svg", caption: "Loss per epoch"),
        .figure(file: "filters.png", caption: "C1 filters"),
        .keyValues([(key: "epochs", value: "40"), (key: "kernels", value: "fast")]),
    ])
    report.resultsJSON = #"{"val_accuracy":0.986,"epochs":40,"c3":"full","curve":[1,2]}"#
    report.files = [(name: "curves.svg", description: "loss per epoch"), (name: "lenet5.safetensors", description: "the weights")]
    return report
}

@Test("text in every block is escaped: < > & and quotes never reach the page raw")
func reportEscapesText() throws {
    let hostile = #"<b>x</b> & "q" 'a'"#
    var report = LessonReport(lesson: "l<1>", title: hostile, command: "lesson run \"x\" <y>")
    report.headline = hostile
    report.addStep(hostile, [
        .paragraph(hostile), .preformatted(hostile),
        .table(ReportTable(caption: hostile, headers: [hostile], rows: [[hostile, hostile]])),
        .keyValues([(key: hostile, value: hostile)]),
        .figure(file: "<none>.svg", caption: hostile),
    ])
    report.files = [(name: "a&b.png", description: hostile)]
    report.resultsJSON = #"{"k": "<script>&"}"#
    let html = report.html(directory: FileManager.default.temporaryDirectory)
    #expect(ReportHTML.escape(hostile) == "&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot; &#39;a&#39;")
    #expect(!html.contains("<b>"))
    #expect(!html.contains("<script"))
    #expect(!html.contains("<none>"))
    #expect(html.contains("&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot; &#39;a&#39;"))
    #expect(html.contains("lesson run &quot;x&quot; &lt;y&gt;"))
}

@Test("steps are numbered, listed in the contents, and the header shows title, command and headline")
func reportNumbersSteps() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { directory in
        let html = try sampleReport(in: directory).html(directory: directory)
        #expect(html.contains("<h2><span class=\"number\">1.</span>The network</h2>"))
        #expect(html.contains("<h2><span class=\"number\">2.</span>Training</h2>"))
        #expect(html.contains("<a href=\"#step-1\">The network</a>"))
        #expect(html.contains("<h1>LeNet-5 learns handwritten digits</h1>"))
        #expect(html.contains("lesson run lenet --seed 1"))
        #expect(html.contains("98.6% held-out accuracy"))
        #expect(html.contains("<p>C1 sees a 5x5 window.</p>\n<p>S2 averages 2x2.</p>"))
        #expect(html.contains("<td class=\"num\">61,706</td>"))
        #expect(html.contains("<td>total</td>"))
        #expect(html.contains("<a href=\"lenet5.safetensors\">"))
    }
}

@Test("an SVG figure is inlined as its <svg> element and a PNG as a base64 data URI")
func reportInlinesFigures() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { directory in
        let report = try sampleReport(in: directory)
        let html = report.html(directory: directory)
        #expect(html.contains("<svg width=\"640\" height=\"400\" viewBox=\"0 0 640 400\""))
        #expect(html.contains("<polyline points="))
        #expect(!html.contains("<?xml"))
        let png = try Data(contentsOf: directory.appendingPathComponent("filters.png"))
        #expect(html.contains("src=\"data:image/png;base64,\(png.base64EncodedString())\""))
        #expect(!html.contains("missing figure"))
    }
}

@Test("an inlined SVG loses its prolog, doctype and scripts, gains a viewBox, and its ids become unique")
func inlinedSVGIsCleaned() throws {
    let document = """
    <?xml version="1.0" encoding="UTF-8"?>
    <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
    <!-- a comment -->
    <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="50">
    <defs><linearGradient id="g"/></defs><rect fill="url(#g)"/><use xlink:href="#g"/>
    <script>alert(1)</script></svg>
    """
    let svg = try #require(ReportHTML.inlineSVG(document, idPrefix: "fig2-"))
    #expect(svg.hasPrefix("<svg viewBox=\"0 0 100 50\" width=\"100\" height=\"50\">"))
    #expect(svg.contains("id=\"fig2-g\"") && svg.contains("url(#fig2-g)") && svg.contains("href=\"#fig2-g\""))
    #expect(!svg.contains("script") && !svg.contains("http") && !svg.contains("DOCTYPE") && !svg.contains("comment"))
    #expect(ReportHTML.inlineSVG("not an image", idPrefix: "x") == nil)
}

@Test("a missing figure renders a visible note naming it instead of failing")
func reportNotesMissingFigure() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { directory in
        var report = LessonReport(lesson: "vgg", title: "VGG", command: "lesson run vgg")
        report.addStep("Pictures", [.figure(file: "nowhere.svg", caption: "gone"), .figure(file: "gone.png", caption: "gone too")])
        let html = report.html(directory: directory)
        #expect(html.contains("<div class=\"missing\">missing figure nowhere.svg</div>"))
        #expect(html.contains("<div class=\"missing\">missing figure gone.png</div>"))
    }
}

@Test("the --json results are shown pretty-printed, in their order, numbers exactly as printed")
func reportShowsJSON() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { directory in
        let html = try sampleReport(in: directory).html(directory: directory)
        #expect(html.contains("<h2>Results (--json)</h2>"))
        let pretty = ReportHTML.prettyJSON(#"{"b":0.986,"a":[1, 2],"e":{},"s":"x,{y}"}"#)
        #expect(pretty == "{\n  \"b\": 0.986,\n  \"a\": [\n    1,\n    2\n  ],\n  \"e\": {},\n  \"s\": \"x,{y}\"\n}")
        #expect(ReportHTML.prettyJSON("{not json") == nil)
    }
}

@Test("the page needs no network and runs no script: no <script>, no http(s):// reference")
func reportIsSelfContained() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { directory in
        let run = directory.appendingPathComponent("lenet")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try sampleReport(in: run).write(to: run)
        for page in [run.appendingPathComponent("index.html"), directory.appendingPathComponent("index.html")] {
            let html = try String(contentsOf: page, encoding: .utf8)
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            #expect(!html.lowercased().contains("<script"))
            #expect(!html.contains("http://") && !html.contains("https://"))
        }
    }
}

@Test("numbers in table cells are recognised for right alignment; words and shapes are not")
func tableCellsThatLookNumeric() {
    for cell in ["61,706", "98.6%", "3.2x", "1.4e-06", "12.5 ms", "-0.5", "+3", "0"] {
        #expect(ReportHTML.looksNumeric(cell), "\(cell)")
    }
    for cell in ["c1", "6x28x28", "", "fast", "Conv2d 5x5", "1 2 3", "-"] {
        #expect(!ReportHTML.looksNumeric(cell), "\(cell)")
    }
}

@Test("the index lists two lessons after two updates, and only the latest run of a lesson")
func indexKeepsLatestRunPerLesson() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { root in
        var first = LessonReport(lesson: "lenet", title: "LeNet-5 learns digits", command: "lesson run lenet --seed 1")
        first.headline = "97.0% held-out accuracy"
        var second = LessonReport(lesson: "resnet", title: "Shortcuts fix degradation", command: "lesson run resnet")
        second.headline = "plain-56 34% vs res-56 3% training error"
        var again = first
        again.headline = "98.6% held-out accuracy"
        again.date = first.date.addingTimeInterval(60)
        try ReportIndex.update(root: root, with: first, directoryName: "lenet")
        try ReportIndex.update(root: root, with: second, directoryName: "resnet")
        try ReportIndex.update(root: root, with: again, directoryName: "lenet-seed2")
        let entries = ReportIndex.readEntries(root: root)
        #expect(entries.map(\.lesson) == ["lenet", "resnet"])
        #expect(entries[0].headline == "98.6% held-out accuracy" && entries[0].link == "lenet-seed2/index.html")
        let html = try String(contentsOf: root.appendingPathComponent("index.html"), encoding: .utf8)
        #expect(html.contains("<a href=\"lenet-seed2/index.html\">LeNet-5 learns digits</a>"))
        #expect(html.contains("<a href=\"resnet/index.html\">Shortcuts fix degradation</a>"))
        #expect(html.contains("98.6% held-out accuracy") && !html.contains("97.0%"))
        #expect(html.components(separatedBy: "<tr>").count - 1 == 3)  // the header row and two runs
    }
}

@Test("a corrupt runs.json is replaced by a fresh list, not a crash")
func indexRecoversFromCorruptRuns() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { root in
        let runs = root.appendingPathComponent("runs.json")
        for garbage in ["{\"lenet\": [tru", "[1, 2, 3]", "{\"lenet\": 7, \"vgg\": {\"title\": 1}}", ""] {
            try Data(garbage.utf8).write(to: runs)
            let report = LessonReport(lesson: "alexnet", title: "AlexNet", command: "lesson run alexnet")
            try ReportIndex.update(root: root, with: report, directoryName: "alexnet")
            #expect(ReportIndex.readEntries(root: root).map(\.lesson) == ["alexnet"])
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: runs)) as? [String: Any]
            #expect(object?.keys.sorted() == ["alexnet"])
        }
    }
}

@Test("writing a report leaves index.html beside the plots and no temporary file behind")
func reportWriteLeavesNoTemporaryFiles() throws {
    try withTemporaryDirectory(prefix: "convnet-report") { root in
        let run = root.appendingPathComponent("lenet")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try sampleReport(in: run).write(to: run)
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted() == ["curves.svg", "filters.png", "index.html"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["index.html", "lenet", "runs.json"])
    }
}

@Test("a logarithmic y axis puts ticks at powers of ten and skips values that are not positive")
func lineChartLogarithmicAxis() {
    var chart = LineChart(title: "gradient norm per layer", xLabel: "layer", yLabel: "norm")
    chart.logarithmicY = true
    chart.series = [.init(name: "plain", points: [(1, 3e-5), (2, 0), (3, -1), (4, 0.01), (5, 40)])]
    let svg = chart.svg
    // Decades 1e-5 ... 100: labels 10^-5, 10^-4, 0.001, 0.01, 0.1, 1, 10, 100.
    #expect(LineChart.decadeTicks(-5, 2) == [-5, -4, -3, -2, -1, 0, 1, 2])
    for label in ["0.001", "0.01", "0.1", ">1<", ">10<", ">100<", "10<tspan dy=\"-6\" font-size=\"9\">\u{2212}5</tspan>"] {
        #expect(svg.contains(label), "\(label)")
    }
    // Three drawable points (y = 0 and y = -1 skipped), each on its decade's line.
    let circles = svg.components(separatedBy: "<circle").count - 1
    #expect(circles == 3)
    // Top of the plot is 100 (y 40), bottom 1e-5 (y 40 + 305): 0.01 sits 3/7 of the way up.
    let plotTop = 40.0, plotHeight = 400.0 - 40 - 55
    #expect(svg.contains("cy=\"\(plotTop + plotHeight * (1 - 3.0 / 7))\""))
    // Everything at or below zero: an empty plot, not a crash.
    chart.series = [.init(name: "zeros", points: [(1, 0), (2, -3)])]
    #expect(!chart.svg.contains("<circle"))
    #expect(LineChart.powerOfTenLabel(3) == "1000" && LineChart.powerOfTenLabel(-2) == "0.01")
}
