import Foundation

/// A first-in first-out queue between threads that holds at most `capacity` elements: `put` waits while it is
/// full, so a fast producer cannot run ahead of its consumers and memory stays bounded. The first failure of
/// either side (`fail`) stops both: puts are refused and takes end.
public final class BoundedQueue<Element>: @unchecked Sendable {
    /// A ring buffer: `count` elements from `head` on, wrapping around.
    private var slots: [Element?]
    private var head = 0, count = 0
    private var closed = false
    private var firstFailure: Error?
    private let condition = NSCondition()

    public init(capacity: Int) {
        precondition(capacity >= 1)
        slots = [Element?](repeating: nil, count: capacity)
    }

    /// Waits for room, then appends; false (the element dropped) once the queue is closed or failed.
    @discardableResult
    public func put(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while count == slots.count && !closed && firstFailure == nil { condition.wait() }
        guard !closed, firstFailure == nil else { return false }
        slots[(head + count) % slots.count] = element
        count += 1
        condition.broadcast()
        return true
    }

    /// Waits for an element; nil once the queue is closed and empty, or after a failure.
    public func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && !closed && firstFailure == nil { condition.wait() }
        guard firstFailure == nil, count > 0 else { return nil }
        let element = slots[head].take()
        head = (head + 1) % slots.count
        count -= 1
        condition.broadcast()
        return element
    }

    /// No more elements will come: consumers drain what is left, then get nil.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Records the first failure and wakes both sides.
    public func fail(_ error: Error) {
        condition.lock()
        if firstFailure == nil { firstFailure = error }
        condition.broadcast()
        condition.unlock()
    }

    /// The first failure, if any.
    public var failure: Error? {
        condition.lock()
        defer { condition.unlock() }
        return firstFailure
    }
}
