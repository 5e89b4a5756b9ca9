namespace Kv.Commands;

/// <summary>
/// Error reply texts, byte-identical to redis-server 7.0.15 (shared objects in server.c createSharedObjects,
/// and the literal texts in the command files). Without the leading '-' and trailing CRLF.
/// </summary>
public static class Errors
{
    /// <summary>shared.wrongtypeerr.</summary>
    public const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";
    /// <summary>shared.syntaxerr.</summary>
    public const string Syntax = "ERR syntax error";
    /// <summary>shared.nokeyerr.</summary>
    public const string NoSuchKey = "ERR no such key";
    /// <summary>shared.outofrangeerr.</summary>
    public const string IndexOutOfRange = "ERR index out of range";
    /// <summary>string2ll failure.</summary>
    public const string NotInteger = "ERR value is not an integer or out of range";
    /// <summary>strtod failure.</summary>
    public const string NotFloat = "ERR value is not a valid float";
    /// <summary>INCR family overflow.</summary>
    public const string Overflow = "ERR increment or decrement would overflow";
    /// <summary>shared.noautherr.</summary>
    public const string NoAuth = "NOAUTH Authentication required.";
    /// <summary>Wrong password.</summary>
    public const string WrongPass = "WRONGPASS invalid username-password pair or user is disabled.";
    /// <summary>SELECT out of range.</summary>
    public const string DbIndexOutOfRange = "ERR DB index is out of range";
    /// <summary>Read-only replica.</summary>
    public const string ReadOnly = "READONLY You can't write against a read only replica.";
    /// <summary>min-replicas not met.</summary>
    public const string NoReplicas = "NOREPLICAS Not enough good replicas to write.";
    /// <summary>Stale replica.</summary>
    public const string MasterDown = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    /// <summary>Loading.</summary>
    public const string Loading = "LOADING Redis is loading the dataset in memory";
    /// <summary>Same source and destination.</summary>
    public const string SameObject = "ERR source and destination objects are the same";
    /// <summary>EXEC after a rejected command in MULTI.</summary>
    public const string ExecAbort = "EXECABORT Transaction discarded because of previous errors.";

    /// <summary>Arity error for a command's full name ("get", "config|get").</summary>
    public static string WrongArity(string fullName) => $"ERR wrong number of arguments for '{fullName}' command";

    /// <summary>Invalid expire time error for a command name (lower case as typed by redis: c->cmd->fullname).</summary>
    public static string InvalidExpire(string fullName) => $"ERR invalid expire time in '{fullName}' command";
}
