import Foundation
import Testing

@testable import LoadTesting

@Suite struct ScheduleTests {
    @Test func uniformArrivalsAreExactlyOneOverRateApart() throws {
        let schedule = try ArrivalSchedule(rate: 100, arrivals: .uniform)
        #expect(Array(schedule.prefix(4)) == [0, 10_000_000, 20_000_000, 30_000_000])
    }

    @Test func uniformArrivalsDoNotDriftWithRounding() throws {
        // 1/3 s is not a whole number of nanoseconds; every third arrival must still land on a second.
        let times = Array(try ArrivalSchedule(rate: 3, arrivals: .uniform).prefix(3001))
        #expect(times[1] == 333_333_333)
        #expect(times[3] == 1_000_000_000)
        #expect(times[3000] == 1_000_000_000_000)
    }

    @Test func poissonArrivalsHaveTheRequestedMeanRateAndExponentialGaps() throws {
        let rate = 250.0
        let times = Array(try ArrivalSchedule(rate: rate, arrivals: .poisson, seed: 7).prefix(100_001))
        #expect(times[0] == 0)
        let gaps = zip(times.dropFirst(), times).map { Double($0 - $1) }
        #expect(gaps.allSatisfy { $0 >= 0 })
        let mean = gaps.reduce(0, +) / Double(gaps.count)
        #expect(abs(mean - 1e9 / rate) / (1e9 / rate) < 0.02, "mean gap \(mean) ns")
        // An exponential's standard deviation equals its mean; a uniform schedule's is 0.
        let variance = gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count)
        let cv = variance.squareRoot() / mean
        #expect(abs(cv - 1) < 0.03, "coefficient of variation \(cv)")
        // Memorylessness: about e^-1 of the gaps exceed the mean.
        let longer = Double(gaps.filter { $0 > 1e9 / rate }.count) / Double(gaps.count)
        #expect(abs(longer - exp(-1)) < 0.01, "share of gaps above the mean \(longer)")
    }

    @Test func aSeedReproducesItsSchedule() throws {
        let a = Array(try ArrivalSchedule(rate: 50, arrivals: .poisson, seed: 1).prefix(100))
        let b = Array(try ArrivalSchedule(rate: 50, arrivals: .poisson, seed: 1).prefix(100))
        let c = Array(try ArrivalSchedule(rate: 50, arrivals: .poisson, seed: 2).prefix(100))
        #expect(a == b)
        #expect(a != c)
    }

    @Test(arguments: [0.0, -5, .nan, .infinity, 2_000_000])
    func unusableRatesAreRefused(rate: Double) {
        #expect(throws: BenchError.self) { try ArrivalSchedule(rate: rate, arrivals: .uniform) }
    }

    @Test func aRateErrorSaysWhatIsExpected() {
        #expect(throws: BenchError("--rate must be a positive number of requests per second, got 0.0")) {
            try ArrivalSchedule(rate: 0, arrivals: .poisson)
        }
    }
}
