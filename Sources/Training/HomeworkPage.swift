import Foundation
import GraphIR
import Reports
import Runtime

/// `results/index.html`: the homework answered on one page, in the homework's order, from what
/// `scripts/homework.sh` left in the results folder:
/// - `q1/count-params.txt`, `q1/study.json` (`graphc --attention-study`),
/// - `q2/metrics.json` and its plots and filters (`graphc graphs/cnn.swiftgraph --train`),
/// - `q3/<tag>/metrics.json`, plots, thumbnails and attention strips (caption training) and
///   `q3/beam3/<tag>/evaluation.json` (the same weights decoded with beam search),
/// - `<part>/steps.tsv`: one line per command the script ran (label, wall seconds, command).
/// A part that has not run yet gets a line saying which command produces it.
public struct HomeworkPage {
    public let results: String
    /// The folder of the homework's graphs (Q1's parameter tables are read from them).
    public let graphs: String

    public init(results: String, graphs: String = "graphs") {
        self.results = results
        self.graphs = graphs
    }

    /// One command the script ran.
    public struct Step: Equatable {
        public var label: String
        public var seconds: Double
        public var command: String
    }

    /// Writes `index.html` in the results folder and returns its path.
    @discardableResult
    public func write() throws -> String {
        let path = (results as NSString).appendingPathComponent("index.html")
        try AtomicFile.write(render(), to: URL(fileURLWithPath: path))
        return path
    }

    public func render() throws -> String {
        var page = HTMLPage(title: "Homework 2, answered with graphc")
        introduction(&page)
        try page.section(id: "q1") { try question1(&$0) }
        try page.section(id: "q2") { try question2(&$0) }
        try page.section(id: "q3") { try question3(&$0) }
        files(&page)
        return page.render()
    }

    func introduction(_ page: inout HTMLPage) {
        page.paragraph([.text("Every number, table and picture on this page was computed by graphc, a deep-learning compiler and CPU runtime written in Swift, from the homework's models written in graphc's DSL ("),
                        .code("graphs/*.swiftgraph"), .text("). "), .code("./scripts/homework.sh"),
                        .text(" produced it; each section ends with the commands that made its numbers, their seeds, threads, OpenBLAS kernels and wall times.")])
        var rows: [[[HTMLPage.Inline]]] = []
        for part in ["q1", "q2", "q3"] {
            let steps = self.steps(part)
            guard !steps.isEmpty else { continue }
            let total = steps.map(\.seconds).reduce(0, +)
            rows.append([[.link(part.uppercased(), href: "#\(part)")], [.text("\(steps.count)")], [.text(HomeworkPage.duration(total))]])
        }
        if !rows.isEmpty {
            page.table(headers: ["part", "commands", "wall time"], rows: rows, numeric: [1, 2])
        }
        page.paragraph([.text("Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, OpenBLAS kernels \(BLASInfo.coreName). Page written \(HomeworkPage.timestamp()).")], note: true)
    }

    func files(_ page: inout HTMLPage) {
        let candidates = ["q1/count-params.txt", "q1/study.json", "q1/heads.safetensors", "q1/X.npy", "q1/outputs.npz",
                          "q2/report.md", "q2/metrics.json", "q2/best.safetensors", "q3/report.md",
                          "q3/caps_generated_enc_dec.json", "q3/caps_generated_enc_dec_w_attention.json",
                          "q3/beam3/caps_generated_enc_dec.json", "q3/beam3/caps_generated_enc_dec_w_attention.json"]
        let present = candidates.filter { exists($0) }
        guard !present.isEmpty else { return }
        page.heading(2, "Files")
        page.list(present.map { [.link($0, href: $0)] })
    }

    /// The commands of one part, with how they were run.
    func provenance(_ page: inout HTMLPage, part: String, details: [String]) {
        let steps = self.steps(part)
        page.heading(3, "How these numbers were obtained")
        if steps.isEmpty {
            page.paragraph([.text("Run "), .code("./scripts/homework.sh \(part)"), .text(" to record the commands here.")], note: true)
        } else {
            page.table(headers: ["step", "command", "wall time"],
                       rows: steps.map { [[.text($0.label)], [.code($0.command)], [.text(HomeworkPage.duration($0.seconds))]] }, numeric: [2])
        }
        if !details.isEmpty { page.paragraph([.text(details.joined(separator: " "))], note: true) }
    }

    /// `<part>/steps.tsv`: `label<TAB>seconds<TAB>command` per line; malformed lines are skipped.
    func steps(_ part: String) -> [Step] {
        guard let text = try? String(contentsOfFile: path("\(part)/steps.tsv"), encoding: .utf8) else { return [] }
        return HomeworkPage.parseSteps(text)
    }

    public static func parseSteps(_ text: String) -> [Step] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, let s = Double(f[1]) else { return nil }
            return Step(label: String(f[0]), seconds: s, command: String(f[2]))
        }
    }

    func path(_ relative: String) -> String { (results as NSString).appendingPathComponent(relative) }
    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }

    func decode<T: Decodable>(_ type: T.Type, _ relative: String) throws -> T? {
        guard let bytes = FileManager.default.contents(atPath: path(relative)) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: bytes) } catch {
            throw RuntimeError("\(path(relative)): not what graphc writes there (\(error.localizedDescription)); run the part again")
        }
    }

    /// Images that exist, so a missing picture is left out rather than drawn broken.
    func figures(_ page: inout HTMLPage, _ images: [(src: String, caption: String)], width: Int? = nil) {
        let present = images.filter { exists($0.src) }
        if !present.isEmpty { page.figures(present, width: width) }
    }

    func missing(_ page: inout HTMLPage, part: String, what: String) {
        page.paragraph([.text("Not computed yet: \(what). Run "), .code("./scripts/homework.sh \(part)"), .text(".")], note: true)
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 60 ? String(format: "%.1f s", seconds) : String(format: "%d min %02d s", Int(seconds) / 60, Int(seconds.rounded()) % 60)
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return f.string(from: Date())
    }

    static func f4(_ x: Double) -> String { String(format: "%.4f", x) }
}
