// Frames and messages: see Frame.swift.
