import Foundation

/// A picture with words beside it: the image (embedded as a PNG data URI, so the SVG is
/// one self-contained file) and a label at the left of each band, such as the stage names
/// of a feature-map picture (input, C1, S2, ...).
public struct LabeledImage {
    public var image: Image
    /// Each label and the top and height of the band it names, in the image's pixels.
    public var labels: [(text: String, top: Int, height: Int)]
    /// Width of the label column, in pixels.
    public var labelWidth = 90

    public init(image: Image, labels: [(text: String, top: Int, height: Int)]) {
        self.image = image
        self.labels = labels
    }

    /// The SVG: labels in a column on the left, centred on their bands, the image beside it.
    public var svg: String {
        get throws {
            let png = try PNG.encode(image, compression: .deflate, path: "labelled image").base64EncodedString()
            let (w, h) = (image.width + labelWidth, image.height)
            var lines = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\">",
                         "<rect width=\"\(w)\" height=\"\(h)\" fill=\"#808080\"/>",
                         "<image x=\"\(labelWidth)\" y=\"0\" width=\"\(image.width)\" height=\"\(image.height)\""
                            + " style=\"image-rendering:pixelated\" href=\"data:image/png;base64,\(png)\"/>"]
            for label in labels {
                let y = label.top + label.height / 2
                lines.append("<text x=\"\(labelWidth - 8)\" y=\"\(y)\" text-anchor=\"end\" dominant-baseline=\"middle\""
                             + " font-family=\"sans-serif\" font-size=\"15\" fill=\"#ffffff\">\(escaped(label.text))</text>")
            }
            lines.append("</svg>")
            return lines.joined(separator: "\n") + "\n"
        }
    }

    private func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
