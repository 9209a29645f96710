import Feed
import Log

/// Views derived from the log. Built by the Projections issue; this namespace anchors the module.
public enum Projections {}
