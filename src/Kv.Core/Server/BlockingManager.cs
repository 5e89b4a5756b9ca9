using Kv.Commands;
using Kv.Resp;

namespace Kv.Server;

/// <summary>State of a client blocked on keys (BLPOP, BLMOVE, BZPOPMIN...).</summary>
public sealed class BlockedState
{
    /// <summary>Database the keys live in.</summary>
    public required int Db { get; init; }
    /// <summary>Keys waited on.</summary>
    public required byte[][] Keys { get; init; }
    /// <summary>Absolute deadline (unix ms), 0 = forever.</summary>
    public required long DeadlineMs { get; init; }
    /// <summary>The command to re-execute when a key is ready.</summary>
    public required CommandDef Command { get; init; }
    /// <summary>Its argv (owned copy).</summary>
    public required Request Argv { get; init; }
}

/// <summary>
/// Clients blocked on keys (blocked.c): FIFO per key. Commands that add elements signal the key ready; after the
/// current command finishes, each ready key's waiters are served in order by re-executing their command with
/// <see cref="CommandContext.ServingBlocked"/> set until the key cannot serve more. Timeouts are checked by the
/// cron and answered with a null array. Used under the execution lock.
/// </summary>
public sealed class BlockingManager(KvServer server)
{
    private readonly Dictionary<(int Db, string Key), LinkedList<ClientSession>> _waiters = [];
    private readonly List<(int Db, byte[] Key)> _ready = [];
    private readonly HashSet<(int, string)> _readySet = [];

    /// <summary>Number of blocked clients.</summary>
    public int BlockedClients { get; private set; }

    /// <summary>Number of keys with waiters.</summary>
    public int BlockingKeys => _waiters.Count;

    private static string K(ReadOnlySpan<byte> key) => Convert.ToBase64String(key);

    /// <summary>Blocks the context's client on keys (see <see cref="CommandContext.BlockOnKeys"/>).</summary>
    public void Block(CommandContext ctx, IEnumerable<byte[]> keys, long timeoutMs)
    {
        var c = ctx.Client;
        var req = new Request();
        var argv = new List<byte[]>();
        for (int i = 0; i < ctx.Argc; i++) argv.Add(ctx.ArgBytes(i));
        req.SetOwned(argv);
        var state = new BlockedState
        {
            Db = c.DbIndex, Keys = keys.ToArray(), DeadlineMs = timeoutMs == 0 ? 0 : KvServer.UnixMs() + timeoutMs,
            Command = ctx.Command, Argv = req,
        };
        c.BlockedState = state;
        c.PrepareBlockWait();
        BlockedClients++;
        foreach (var k in state.Keys)
        {
            var key = (state.Db, K(k));
            if (!_waiters.TryGetValue(key, out var list)) _waiters[key] = list = new();
            if (!list.Contains(c)) list.AddLast(c);
        }
    }

    /// <summary>Marks a key ready if some client waits on it.</summary>
    public void SignalReady(int db, ReadOnlySpan<byte> key)
    {
        if (_waiters.Count == 0) return;
        var k = (db, K(key));
        if (!_waiters.ContainsKey(k) || !_readySet.Add(k)) return;
        _ready.Add((db, key.ToArray()));
    }

    /// <summary>
    /// signalKeyAsReady as dbAdd calls it in 7.0.15: only a value of a type that can unblock someone (list, sorted
    /// set) marks the key ready. Used by every path that creates a key: RENAME/RENAMENX, MOVE, COPY, pushes, *STORE.
    /// </summary>
    public void SignalAdded(int db, ReadOnlySpan<byte> key, object? value)
    {
        if (value is Kv.Storage.KvList or Kv.Storage.KvZSet) SignalReady(db, key);
    }

    /// <summary>
    /// scanDatabaseForReadyKeys (db.c 7.0.15), run by SWAPDB for both databases after the swap and by a full-sync
    /// load: every key of database <paramref name="dbId"/> that has waiters and now holds a list or sorted set in
    /// <paramref name="data"/> is marked ready (blocked clients stay in their database; the data moved).
    /// </summary>
    public void ScanDatabaseForReadyKeys(int dbId, Kv.Storage.RedisDb data)
    {
        if (_waiters.Count == 0) return;
        foreach (var (db, k) in _waiters.Keys.ToArray())
        {
            if (db != dbId) continue;
            var key = Convert.FromBase64String(k);
            SignalAdded(dbId, key, data.Get(key));
        }
    }

    /// <summary>Serves waiters of ready keys (handleClientsBlockedOnKeys).</summary>
    public void HandleReadyKeys()
    {
        while (_ready.Count > 0)
        {
            var batch = _ready.ToArray();
            _ready.Clear();
            _readySet.Clear();
            foreach (var (db, key) in batch)
            {
                if (!_waiters.TryGetValue((db, K(key)), out var list)) continue;
                var node = list.First;
                while (node is not null)
                {
                    var next = node.Next;
                    var c = node.Value;
                    if (c.BlockedState is { } st)
                    {
                        int mark = c.Out.Length;
                        int oldDb = c.DbIndex;
                        c.DbIndex = st.Db;
                        c.Context.ServingBlocked = true;
                        c.Context.ServingKey = key;
                        var saved = c.BlockedState;
                        c.BlockedState = null;
                        Dispatcher.Call(c, st.Command, st.Argv, topLevel: false);
                        c.Context.ServingBlocked = false;
                        c.Context.ServingKey = null;
                        c.DbIndex = oldDb;
                        server.FlushPropagation();
                        if (c.Out.Length > mark)
                        {
                            // Served: fully unblock.
                            c.BlockedState = saved;
                            Unblock(c, timedOut: false, silent: true);
                            c.ScheduleFlush();
                        }
                        else
                        {
                            c.BlockedState = saved; // still waiting (key emptied by someone else)
                        }
                    }
                    node = next;
                }
            }
        }
    }

    /// <summary>Unblocks a client: removes it from wait lists; on timeout replies a null array.</summary>
    public void Unblock(ClientSession c, bool timedOut, bool silent)
    {
        var st = c.BlockedState;
        if (st is null) return;
        c.BlockedState = null;
        BlockedClients--;
        foreach (var k in st.Keys)
        {
            var key = (st.Db, K(k));
            if (_waiters.TryGetValue(key, out var list))
            {
                list.Remove(c);
                if (list.Count == 0) _waiters.Remove(key);
            }
        }
        if (timedOut && !silent)
        {
            c.Out.NullArray();
            c.ScheduleFlush();
        }
        c.SignalUnblocked();
    }

    /// <summary>Times out expired waits.</summary>
    public void Cron(long nowMs)
    {
        if (BlockedClients == 0) return;
        foreach (var c in server.Clients.Values.ToArray())
            if (c.BlockedState is { DeadlineMs: > 0 } st && st.DeadlineMs <= nowMs)
                Unblock(c, timedOut: true, silent: false);
    }
}
