import Foundation
import Training

/// The error that `body` throws, as a `TrainingError` (nil when it returns normally; a
/// `TrainingError` wrapping the description when it throws another type, so that the
/// comparison fails with a readable message).
func thrownTrainingError<T>(_ body: () throws -> T) -> TrainingError? {
  do {
    _ = try body()
    return nil
  } catch let error as TrainingError {
    return error
  } catch {
    return .invalidValue(key: "<not a TrainingError>", value: "\(error)", expected: "a TrainingError")
  }
}
