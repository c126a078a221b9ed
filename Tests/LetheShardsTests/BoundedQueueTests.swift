import Foundation
import XCTest
import LetheShards

/// A value shared with a producer thread.
private final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

final class BoundedQueueTests: XCTestCase {
    /// Elements come out in order; a producer waits while the queue holds `capacity`; close drains, then ends.
    func testOrderCapacityAndClose() {
        let queue = BoundedQueue<Int>(capacity: 3)
        let produced = DispatchSemaphore(value: 0)
        let putCount = Shared(0)
        Thread {
            for i in 0..<10 {
                queue.put(i)
                putCount.value += 1
            }
            queue.close()
            produced.signal()
        }.start()
        usleep(200_000)
        XCTAssertEqual(putCount.value, 3, "the producer waits once 3 are waiting")
        var taken: [Int] = []
        while let value = queue.take() { taken.append(value) }
        XCTAssertEqual(taken, Array(0..<10))
        produced.wait()
        XCTAssertFalse(queue.put(10), "nothing is taken after close")
        XCTAssertNil(queue.take())
    }

    /// A failure wakes a waiting producer, refuses later puts and ends takes, even with elements left.
    func testFailureStopsBothSides() {
        struct Broken: Error {}
        let queue = BoundedQueue<Int>(capacity: 1)
        XCTAssertTrue(queue.put(1))
        let refused = DispatchSemaphore(value: 0)
        let result = Shared(true)
        Thread {
            result.value = queue.put(2)  // waits: the queue is full
            refused.signal()
        }.start()
        usleep(100_000)
        queue.fail(Broken())
        refused.wait()
        XCTAssertFalse(result.value)
        XCTAssertNil(queue.take(), "after a failure takes end")
        XCTAssert(queue.failure is Broken)
    }
}
