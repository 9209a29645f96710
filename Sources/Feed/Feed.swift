import Log

/// The change feed over an ``EventLog``: ordered cursors, checkpoints and the keyed processor.
/// Built by the Feed issue; this namespace anchors the module until then.
public enum Feed {}
