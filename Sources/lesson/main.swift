import ConvNetCore
import Foundation

/// `lesson`: the command a learner types. Each subcommand lives in its own file.
let topHelp = """
USAGE: lesson <command> [options]

ConvNet case studies from the kernels up: run a lesson, print a network's layer table,
check the kernels against PyTorch fixtures, time naive against fast kernels.

COMMANDS:
  list                 every lesson, one line each
  run NAME             run one lesson (--quick for seconds, --json for results)
  summary NAME         layer table of a network: output shape, parameters, MACs
  verify DIR...        check against reference fixtures (PASS/FAIL per case)
  bench                naive vs fast kernels: GFLOP/s and % of this machine's peak
  exercise NAME        a lesson's exercises: list, --start (blank them), --reset

Run `lesson <command> --help` for a command's options. Build in release mode:
  swift run -c release lesson list
"""

func runCommand(_ arguments: [String]) throws -> Int32 {
    guard let command = arguments.first else {
        print(topHelp)
        return 0
    }
    let rest = Array(arguments.dropFirst())
    switch command {
    case "-h", "--help", "help":
        print(topHelp)
        return 0
    case "list": return try ListCommand.run(rest)
    case "run": return try RunCommand.run(rest)
    case "summary": return try SummaryCommand.run(rest)
    case "verify": return try VerifyCommand.run(rest)
    case "bench": return try BenchCommand.run(rest)
    case "exercise": return try ExerciseCommand.run(rest)
    default:
        let commands = ["list", "run", "summary", "verify", "bench", "exercise"]
        let typed = command.drop(while: { $0 == "-" })
        throw CommandError.usage("lesson: unknown command '\(command)'" + NearestName.suggestion(for: String(typed), among: commands + ["help"])
                                 + " (commands: \(commands.joined(separator: ", ")); see lesson --help)")
    }
}

do {
    let status = try runCommand(Array(CommandLine.arguments.dropFirst()))
    exit(status)
} catch let error as CommandError {
    printError(error.description)
    exit(error.status)
} catch {
    printError("lesson: \(error)")
    exit(1)
}
