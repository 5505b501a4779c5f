import VishwaCore
import VishwaFS

/// The command line of `vishwafs`, parsed by hand: mount(8) helpers call it as
/// `vishwafs SOURCE MOUNTPOINT -o opt,...`, people as `vishwafs MOUNTPOINT [--home H] [-f] [-o ...]`.
struct MountArguments {
    var mountpoint = ""
    var home: String?
    var foreground = false
    var debug = false
    var passphraseFile: String?
    var allowNonEmpty = false
    var attributeTimeout = 1.0
    /// Names change only through this mount, whose changes the kernel sees as it makes them, or
    /// through the CLI: a name the CLI removed or replaced points at a node that is gone, and
    /// every operation on a gone node answers ESTALE, on which the kernel looks the path up
    /// again. So names can be trusted for long; attributes (sizes the CLI's sync changes) not.
    var entryTimeout = 60.0
    /// The self-healing loop: how often it checks, and how long a file stays degraded before it
    /// is repaired (0 interval: off).
    var healInterval = 600.0
    var healGrace = 900.0
    /// Bytes per second the loop may rebuild (0: unbounded).
    var healRate = 20 << 20
    /// The catalog backup on the hosts follows the mount's changes at most this often.
    var backupInterval = 60.0
    /// How often the shards of removed and overwritten files are deleted from the hosts (0:
    /// off), and how long they wait in the queue first.
    var gcInterval = 600.0
    var gcMinAge = 3600.0
    var options = MountOptions()
    /// Options handed to libfuse as they are (allow_other, auto_unmount, ro, fsname, ...).
    var fuseOptions: [String] = []

    static let usage = """
        usage: vishwafs MOUNTPOINT [--home H] [-f] [-d] [--passphrase-file F] [-o opt,...]
               vishwafs SOURCE MOUNTPOINT -o opt,...     (as mount.vishwafs; SOURCE is the vault home, or 'vishwa')

        Mounts the vault as a directory. Files are cut into chunks, erasure-coded and encrypted
        on this machine, and their shards stored on the paired hosts.

          --home H              the vault's folder (default $VISHWA_HOME or ~/.local/share/vishwa)
          -f, --foreground      stay in the foreground and log to standard error
          -d, --debug           foreground with debug logging
          --passphrase-file F   the vault passphrase, for a passphrase-protected vault
          -o ro                 read-only
          -o allow_other        let other users in (needs user_allow_other in /etc/fuse.conf)
          -o auto_unmount       unmount when vishwafs dies
          -o cache_size=SIZE    plaintext chunk cache in memory (default 256M)
          -o readahead=N        chunks fetched ahead of a sequential reader (default 2)
          -o attr_timeout=S     seconds the kernel trusts attributes (default 1)
          -o entry_timeout=S    seconds the kernel trusts names (default 60)
          -o heal_interval=S    seconds between self-healing passes (default 600; 0: off)
          -o heal_grace=S       seconds a file stays degraded before it is repaired (default 900)
          -o heal_rate=SIZE     rebuilding pace per second (default 20M; 0: unbounded)
          -o backup_interval=S  back the catalog up to the hosts when changes pause, at most
                                this often, and this often while they go on (default 60);
                                and at unmount
          -o gc_interval=S      seconds between deletions of the shards of removed and
                                overwritten files from the hosts (default 600; 0: off)
          -o gc_min_age=S       seconds such shards wait first (default 3600)
          -o nonempty           mount over a folder that is not empty
          -o noexec             no program in the mount may run (nosuid and nodev are
                                always on; suid, dev and exec are ignored)
          -o home=H, -o passphrase_file=F   as the flags, for /etc/fstab
        Other -o options go to libfuse. Unmount with 'fusermount3 -u MOUNTPOINT' (or SIGTERM):
        open files are committed first.
        """

    /// mount(8)'s own options, meaningless to libfuse. `nosuid`, `nodev` and `noexec` are not
    /// among them: they go to libfuse, which makes them mount flags (it sets nosuid and nodev
    /// by itself). `suid`, `dev` and `exec` are dropped: a vault's files come from other
    /// machines' shards, and an fstab line's `defaults` must never make them setuid or devices.
    static let mountOnly: Set<String> = ["defaults", "auto", "noauto", "user", "nouser", "users", "_netdev", "nofail", "rw",
                                         "owner", "group", "dev", "suid", "exec"]

    enum Outcome {
        case mount(MountArguments)
        case help
        case version
    }

    static func parse(_ arguments: [String]) throws(StartError) -> Outcome {
        var result = MountArguments()
        var positional: [String] = []
        var index = 0
        func value(_ flag: String) throws(StartError) -> String {
            index += 1
            guard index < arguments.count else { throw .usage("\(flag) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-h", "--help": return .help
            case "-V", "--version": return .version
            case "-f", "--foreground": result.foreground = true
            case "-d", "--debug": result.foreground = true; result.debug = true
            case "-s": break  // single-threaded: accepted from mount helpers, the loop stays multi-threaded
            case "--home": result.home = try value(argument)
            case "--passphrase-file": result.passphraseFile = try value(argument)
            case "-o": try result.apply(try value(argument))
            default:
                if argument.hasPrefix("-o") {
                    try result.apply(String(argument.dropFirst(2)))
                } else if argument.hasPrefix("-") {
                    throw .usage("unknown option \(argument)")
                } else {
                    positional.append(argument)
                }
            }
            index += 1
        }
        switch positional.count {
        case 1:
            result.mountpoint = positional[0]
        case 2:
            // mount(8) form: the source names the vault home ("vishwa" or "none" for the default).
            if !["vishwa", "vishwafs", "none", "default"].contains(positional[0]), result.home == nil {
                result.home = positional[0]
            }
            result.mountpoint = positional[1]
        case 0: throw .usage("no mountpoint given")
        default: throw .usage("too many arguments: \(positional.joined(separator: " "))")
        }
        return .mount(result)
    }

    /// Applies one `-o a,b=c` list.
    mutating func apply(_ list: String) throws(StartError) {
        for option in list.split(separator: ",").map(String.init) where !option.isEmpty {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0], value = parts.count > 1 ? parts[1] : nil
            switch key {
            case "cache_size":
                guard let value, let size = ByteCount(parsing: value), size.bytes >= 0 else {
                    throw .usage("cache_size needs a size such as 256M")
                }
                options.cacheBytes = size.bytes
            case "readahead":
                guard let value, let chunks = Int(value), (0...64).contains(chunks) else {
                    throw .usage("readahead needs a number of chunks from 0 to 64")
                }
                options.readAheadChunks = chunks
            case "attr_timeout", "entry_timeout":
                guard let value, let seconds = Double(value), seconds >= 0, seconds <= 3600 else {
                    throw .usage("\(key) needs seconds from 0 to 3600")
                }
                if key == "attr_timeout" { attributeTimeout = seconds } else { entryTimeout = seconds }
            case "heal_interval", "heal_grace", "gc_interval", "gc_min_age":
                guard let value, let seconds = Double(value), seconds >= 0, seconds <= 86400 * 30 else {
                    throw .usage("\(key) needs seconds from 0 to 2592000")
                }
                switch key {
                case "heal_interval": healInterval = seconds
                case "heal_grace": healGrace = seconds
                case "gc_interval": gcInterval = seconds
                default: gcMinAge = seconds
                }
            case "backup_interval":
                guard let value, let seconds = Double(value), seconds >= 1, seconds <= 86400 else {
                    throw .usage("backup_interval needs seconds from 1 to 86400")
                }
                backupInterval = seconds
            case "heal_rate":
                guard let value, let rate = ByteCount(parsing: value), rate.bytes >= 0 else {
                    throw .usage("heal_rate needs a size per second such as 20M")
                }
                healRate = rate.bytes
            case "home":
                guard let value else { throw .usage("home needs a folder") }
                home = value
            case "passphrase_file":
                guard let value else { throw .usage("passphrase_file needs a file") }
                passphraseFile = value
            case "nonempty":
                allowNonEmpty = true
            case "ro":
                options.readOnly = true
                fuseOptions.append("ro")
            default:
                if Self.mountOnly.contains(key) || key.hasPrefix("x-") || key == "comment" { continue }
                fuseOptions.append(option)
            }
        }
    }
}

enum StartError: Error, CustomStringConvertible {
    case usage(String)
    case setup(String)

    var description: String {
        switch self {
        case .usage(let what): return "\(what) (see vishwafs --help)"
        case .setup(let what): return what
        }
    }
}
