using System.Text;
using Kv.Resp;
using Kv.Server;
using Kv.Storage;

namespace Kv.Commands;

/// <summary>
/// Everything a command handler sees: the server, the calling client, its selected database, the argument
/// vector, the reply writer, the command's time snapshot, and the propagation API. One per client, reused for
/// every command. Only used under the server's execution lock.
/// </summary>
public sealed class CommandContext
{
    internal CommandContext(KvServer server, ClientSession client)
    {
        Server = server;
        Client = client;
    }

    /// <summary>The server.</summary>
    public KvServer Server { get; }

    /// <summary>The client whose command runs.</summary>
    public ClientSession Client { get; }

    /// <summary>The command being executed.</summary>
    public CommandDef Command { get; internal set; } = null!;

    /// <summary>Argument vector (argv[0] is the command name).</summary>
    public Request Args { get; internal set; } = null!;

    /// <summary>Number of arguments including the name (argc).</summary>
    public int Argc => Args.Count;

    /// <summary>Reply sink of the client.</summary>
    public ReplyWriter Reply => Client.Out;

    /// <summary>The client's selected database.</summary>
    public RedisDb Db => Server.Databases[Client.DbIndex];

    /// <summary>Unix time in ms, fixed for the duration of the command (keys expire against this time).</summary>
    public long NowMs { get; internal set; }

    /// <summary>Set by a handler to replace what is propagated to replicas for this command (argv rewriting).</summary>
    public List<byte[]>? PropagateAs { get; set; }

    /// <summary>Set by a handler so the command is not propagated even though it changed data.</summary>
    public bool PreventPropagation { get; set; }

    /// <summary>True while EXEC runs the queued commands (blocking commands must not block: CLIENT_DENY_BLOCKING).</summary>
    public bool InExec { get; internal set; }

    /// <summary>
    /// While <see cref="ServingBlocked"/>: the ready key being served. Redis serves a blocked client from that key
    /// only (not from the first non-empty key of its list) and leaves it blocked when the key holds another type.
    /// </summary>
    public byte[]? ServingKey { get; internal set; }

    /// <summary>True while the command is re-executed to serve a client that was blocked on keys.</summary>
    public bool ServingBlocked { get; internal set; }

    /// <summary>Argument <paramref name="i"/> as a span.</summary>
    public ReadOnlySpan<byte> Arg(int i) => Args[i];

    /// <summary>Argument <paramref name="i"/> as an owned array.</summary>
    public byte[] ArgBytes(int i) => Args.ToArray(i);

    /// <summary>Argument <paramref name="i"/> copied for storage in the keyspace as a string value (<see cref="Storage.KvHeap"/>).</summary>
    public byte[] ArgValue(int i) => Storage.KvHeap.Copy(Args[i]);

    /// <summary>Argument <paramref name="i"/> as text (UTF-8).</summary>
    public string ArgString(int i) => Encoding.UTF8.GetString(Args[i]);

    /// <summary>ASCII case-insensitive comparison of argument <paramref name="i"/> with <paramref name="word"/>.</summary>
    public bool ArgIs(int i, string word)
    {
        var a = Args[i];
        if (a.Length != word.Length) return false;
        for (int k = 0; k < a.Length; k++)
            if ((a[k] | 0x20) != (word[k] | 0x20) || (char.IsLetter(word[k]) ? false : a[k] != word[k])) return false;
        return true;
    }

    /// <summary>Counts a change to the dataset (server.dirty++): drives save points and propagation.</summary>
    public void Dirty(long n = 1) => Server.Dirty += n;

    /// <summary>
    /// Looks up a key for reading: applies lazy expiry as expireIfNeeded does in 7.0.15 (on a master an expired key
    /// is deleted and a DEL is propagated; on a replica it reads as missing for normal clients but stays, and the
    /// master link sees it). Updates keyspace_hits/misses when <paramref name="countStats"/>.
    /// </summary>
    public object? Lookup(ReadOnlySpan<byte> key, bool countStats = true) => Lookup(key, countStats, countStats);

    /// <summary>
    /// <see cref="Lookup(ReadOnlySpan{byte}, bool)"/> with the keymiss event chosen separately (OBJECT looks up with
    /// LOOKUP_NONOTIFY: stats counted, no keymiss event).
    /// </summary>
    public object? Lookup(ReadOnlySpan<byte> key, bool countStats, bool notifyMiss)
    {
        var db = Db;
        if (ExpireIfNeeded(db, key))
        {
            if (countStats)
            {
                Server.Stats.KeyspaceMisses++;
                if (notifyMiss) Notify(KeyspaceEvents.KeyMiss, "keymiss", key, db);
            }
            return null;
        }
        var v = db.Get(key);
        if (countStats)
        {
            if (v is null) Server.Stats.KeyspaceMisses++;
            else Server.Stats.KeyspaceHits++;
        }
        if (v is null && countStats && notifyMiss) Notify(KeyspaceEvents.KeyMiss, "keymiss", key, db);
        return v;
    }

    /// <summary>Looks up a key for a write: lazy expiry first, then notifies the snapshot guard.</summary>
    public object? LookupWrite(ReadOnlySpan<byte> key)
    {
        var db = Db;
        ExpireIfNeeded(db, key);
        return db.GetForWrite(key);
    }

    /// <summary>
    /// Returns true when <paramref name="key"/> is logically expired for this caller, deleting it (and propagating
    /// the deletion) when we are a master.
    /// </summary>
    public bool ExpireIfNeeded(RedisDb db, ReadOnlySpan<byte> key)
    {
        if (db.Expires.Count == 0) return false;
        long when = db.GetExpire(key);
        if (when < 0 || NowMs <= when) return false;
        if (Server.IsReplica)
        {
            if (Client.IsMaster) return false;
            return true;
        }
        if (Server.Loading || Server.WritesPaused) return true; // paused (FAILOVER): the dataset stays static
        Server.DeleteExpiredKey(db, key);
        return true;
    }

    /// <summary>Reports that a key was changed (signalModifiedKey): invalidates WATCHes and wakes blocked clients when relevant.</summary>
    public void KeyModified(RedisDb db, ReadOnlySpan<byte> key) => Server.Watches.Touch(db.Id, key);

    /// <summary>Reports that a key was changed in the current database.</summary>
    public void KeyModified(ReadOnlySpan<byte> key) => KeyModified(Db, key);

    /// <summary>Marks a list/zset key as ready for clients blocked on it (signalKeyAsReady).</summary>
    public void SignalKeyAsReady(RedisDb db, ReadOnlySpan<byte> key) => Server.Blocking.SignalReady(db.Id, key);

    /// <summary>
    /// dbAdd's signalKeyAsReady (7.0.15): after <paramref name="key"/> was created in <paramref name="db"/> holding
    /// <paramref name="value"/>, clients blocked on it are served if the value is a list or a sorted set.
    /// </summary>
    public void SignalKeyAdded(RedisDb db, ReadOnlySpan<byte> key, object? value) => Server.Blocking.SignalAdded(db.Id, key, value);

    /// <summary>notifyKeyspaceEvent for a key of database <paramref name="db"/> (see <see cref="PubSubRegistry.NotifyKeyspaceEvent"/>).</summary>
    public void Notify(KeyspaceEvents type, string evt, ReadOnlySpan<byte> key, RedisDb db) => Server.PubSub.NotifyKeyspaceEvent(type, evt, key, db.Id);

    /// <summary>notifyKeyspaceEvent for a key of the current database.</summary>
    public void Notify(KeyspaceEvents type, string evt, ReadOnlySpan<byte> key) => Server.PubSub.NotifyKeyspaceEvent(type, evt, key, Db.Id);

    /// <summary>Replies with a Redis error (text includes the code, e.g. "ERR syntax error").</summary>
    public void Error(string text) => Reply.Error(text);

    /// <summary>Replies -WRONGTYPE.</summary>
    public void WrongType() => Reply.Error(Errors.WrongType);

    /// <summary>Replies the syntax error.</summary>
    public void SyntaxError() => Reply.Error(Errors.Syntax);

    /// <summary>Replies the wrong-arity error for the current command.</summary>
    public void WrongArity() => Reply.Error(Errors.WrongArity(Command.FullName));

    /// <summary>Parses argument <paramref name="i"/> as a 64-bit integer, replying "value is not an integer or out of range" on failure.</summary>
    public bool TryGetLong(int i, out long value)
    {
        if (RequestParser.TryParseLong(Args[i], out value)) return true;
        Reply.Error(Errors.NotInteger);
        return false;
    }

    /// <summary>
    /// Parses argument <paramref name="i"/> as a double as strtod does for redis (inf/-inf accepted, NaN rejected),
    /// replying "value is not a valid float" on failure.
    /// </summary>
    public bool TryGetDouble(int i, out double value)
    {
        if (Numbers.TryParseDouble(Args[i], out value)) return true;
        Reply.Error(Errors.NotFloat);
        return false;
    }

    /// <summary>
    /// Blocks the client on <paramref name="keys"/> until one is signalled ready or <paramref name="timeoutMs"/>
    /// passes (0 = forever). The handler returns at once; when a key becomes ready the same command is executed
    /// again with <see cref="ServingBlocked"/> set; on timeout the client gets a null array.
    /// </summary>
    public void BlockOnKeys(IEnumerable<byte[]> keys, long timeoutMs) => Server.Blocking.Block(this, keys, timeoutMs);

    /// <summary>Parses a blocking timeout in seconds (float) into an absolute deadline in ms; replies the redis error on failure.</summary>
    public bool TryGetTimeout(int i, out long timeoutMs)
    {
        timeoutMs = 0;
        if (!Numbers.TryParseDouble(Args[i], out var secs) || double.IsInfinity(secs))
        {
            Reply.Error("ERR timeout is not a float or out of range");
            return false;
        }
        if (secs < 0)
        {
            Reply.Error("ERR timeout is negative");
            return false;
        }
        timeoutMs = secs == 0 ? 0 : (long)(secs * 1000);
        return true;
    }
}
