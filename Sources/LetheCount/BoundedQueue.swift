import Foundation

/// A first-in first-out queue between threads that holds at most `capacity` elements: `put` waits while it is
/// full, so a fast producer cannot run ahead of its consumers and memory stays bounded.
final class BoundedQueue<Element>: @unchecked Sendable {
    /// A ring buffer: `count` elements from `head` on, wrapping around.
    private var slots: [Element?]
    private var head = 0, count = 0
    private var closed = false
    private let condition = NSCondition()

    init(capacity: Int) {
        precondition(capacity >= 1)
        slots = [Element?](repeating: nil, count: capacity)
    }

    /// Waits for room, then appends. Elements put after `close()` are dropped.
    func put(_ element: Element) {
        condition.lock()
        defer { condition.unlock() }
        while count == slots.count && !closed { condition.wait() }
        guard !closed else { return }
        slots[(head + count) % slots.count] = element
        count += 1
        condition.broadcast()
    }

    /// Waits for an element; nil once the queue is closed and empty.
    func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && !closed { condition.wait() }
        guard count > 0 else { return nil }
        let element = slots[head].take()
        head = (head + 1) % slots.count
        count -= 1
        condition.broadcast()
        return element
    }

    /// No more elements will come: consumers drain what is left, then get nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
