import XCTest
@testable import LetheAnalysis

/// The report's reading of lethe-train's log: steps, validation lines, the CSV and the plots.
final class TrainingCurveTests: XCTestCase {
    let log = """
        {"grad_norm":1.0,"loss":4.0,"lr":0.001,"pass":1,"step":1,"tokens_per_s":10}
        {"grad_norm":1.0,"loss":3.0,"lr":0.001,"pass":1,"step":2,"tokens_per_s":10}
        {"step":2,"val_chunks":5,"val_loss":3.5,"val_loss_by_length":{"4":3.0,"16":4.0},"val_f1_by_length":{"4":0.5,"16":0.25}}
        {"grad_norm":1.0,"loss":2.0,"lr":0.001,"pass":2,"step":3,"tokens_per_s":10}
        {"grad_norm":1.0,"loss":1.0,"lr":0.001,"pass":2,"step":4,"tokens_per_s":10}
        {"step":4,"val_chunks":5,"val_loss":2.5,"val_loss_by_length":{"4":2.0,"16":3.0},"val_f1_by_length":{"4":0.75,"16":0.5}}

        """

    func testReadsStepsAndValidations() throws {
        let curve = try TrainingCurve(jsonLines: log, source: "stages/train/train_log.jsonl")
        XCTAssertEqual(curve.stepNumbers, [1, 2, 3, 4])
        XCTAssertEqual(curve.losses, [4, 3, 2, 1])
        XCTAssertEqual(curve.validations.map(\.step), [2, 4])
        XCTAssertEqual(curve.validations.map(\.loss), [3.5, 2.5])
        XCTAssertEqual(curve.validationLengths, [4, 16])
        XCTAssertEqual(curve.validations[1].f1ByLength, [4: 0.75, 16: 0.5])
        XCTAssertEqual(curve.smoothedLoss(window: 3).map(\.step), [3, 4])
        XCTAssertEqual(curve.smoothedLoss(window: 3).map(\.loss), [3, 1])
        // Each validation row carries the mean training loss of the steps since the previous one.
        XCTAssertEqual(curve.csv(), """
            step,train_loss,val_loss,val_chunks,val_f1_4,val_f1_16
            2,3.5,3.5,5,0.5,0.25
            4,1.5,2.5,5,0.75,0.5

            """)
        let f1 = curve.f1Plot(), loss = curve.lossPlot()
        XCTAssert(f1.contains("4 tokens") && f1.contains("16 tokens"), f1)
        XCTAssert(loss.contains("training loss") && loss.contains("validation loss"), loss)
    }

    func testRejectsALineThatIsNotALogLine() {
        XCTAssertThrowsError(try TrainingCurve(jsonLines: log + "not json\n", source: "x/train_log.jsonl")) { error in
            XCTAssertEqual("\(error)", "x/train_log.jsonl:7: not a lethe-train log line")
        }
    }
}
