using System.Text;

namespace Kv.Server;

/// <summary>Keyspace event classes of notify-keyspace-events (server.h NOTIFY_*; config letters in brackets).</summary>
[Flags]
public enum KeyspaceEvents
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>K: publish on __keyspace@db__:key.</summary>
    Keyspace = 1 << 0,
    /// <summary>E: publish on __keyevent@db__:event.</summary>
    Keyevent = 1 << 1,
    /// <summary>g: DEL, EXPIRE, RENAME, ...</summary>
    Generic = 1 << 2,
    /// <summary>$: string commands.</summary>
    String = 1 << 3,
    /// <summary>l: list commands.</summary>
    List = 1 << 4,
    /// <summary>s: set commands.</summary>
    Set = 1 << 5,
    /// <summary>h: hash commands.</summary>
    Hash = 1 << 6,
    /// <summary>z: sorted set commands.</summary>
    ZSet = 1 << 7,
    /// <summary>x: key expired (lazily or by the active cycle).</summary>
    Expired = 1 << 8,
    /// <summary>e: key evicted (maxmemory).</summary>
    Evicted = 1 << 9,
    /// <summary>t: stream commands.</summary>
    Stream = 1 << 10,
    /// <summary>m: key miss on a read lookup.</summary>
    KeyMiss = 1 << 11,
    /// <summary>d: module events.</summary>
    Module = 1 << 12,
    /// <summary>n: new key created (dbAdd).</summary>
    New = 1 << 13,
}

/// <summary>
/// Pub/sub channels and glob patterns (pubsub.c). Messages are written into subscribers' reply buffers as RESP2
/// arrays or RESP3 push frames and flushed asynchronously. Used under the execution lock.
/// </summary>
public sealed class PubSubRegistry(KvServer server)
{
    private readonly Dictionary<string, List<ClientSession>> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ClientSession>> _patterns = new(StringComparer.Ordinal);

    /// <summary>Channel names are kept as Latin-1 strings so any byte sequence round-trips.</summary>
    public static string Name(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    /// <summary>Bytes of a Latin-1 name.</summary>
    public static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    /// <summary>Channels with at least one subscriber.</summary>
    public IEnumerable<string> ActiveChannels => _channels.Keys;

    /// <summary>Number of patterns subscribed (PUBSUB NUMPAT counts unique patterns).</summary>
    public int PatternCount => _patterns.Count;

    /// <summary>Number of subscribers of a channel.</summary>
    public int Subscribers(string channel) => _channels.TryGetValue(channel, out var l) ? l.Count : 0;

    /// <summary>Subscribes; returns false when already subscribed.</summary>
    public bool Subscribe(ClientSession c, string channel)
    {
        if (!c.Channels.Add(channel)) return false;
        if (!_channels.TryGetValue(channel, out var l)) _channels[channel] = l = [];
        l.Add(c);
        return true;
    }

    /// <summary>Unsubscribes; returns false when not subscribed.</summary>
    public bool Unsubscribe(ClientSession c, string channel)
    {
        if (!c.Channels.Remove(channel)) return false;
        if (_channels.TryGetValue(channel, out var l))
        {
            l.Remove(c);
            if (l.Count == 0) _channels.Remove(channel);
        }
        return true;
    }

    /// <summary>Pattern subscribe.</summary>
    public bool PSubscribe(ClientSession c, string pattern)
    {
        if (!c.Patterns.Add(pattern)) return false;
        if (!_patterns.TryGetValue(pattern, out var l)) _patterns[pattern] = l = [];
        l.Add(c);
        return true;
    }

    /// <summary>Pattern unsubscribe.</summary>
    public bool PUnsubscribe(ClientSession c, string pattern)
    {
        if (!c.Patterns.Remove(pattern)) return false;
        if (_patterns.TryGetValue(pattern, out var l))
        {
            l.Remove(c);
            if (l.Count == 0) _patterns.Remove(pattern);
        }
        return true;
    }

    /// <summary>Drops every subscription of a disconnected client.</summary>
    public void UnsubscribeAll(ClientSession c)
    {
        foreach (var ch in c.Channels.ToArray()) Unsubscribe(c, ch);
        foreach (var p in c.Patterns.ToArray()) PUnsubscribe(c, p);
    }

    private ConfigParam? _eventsParam;
    private string? _eventsText;
    private KeyspaceEvents _events;

    /// <summary>The classes enabled by notify-keyspace-events (parsed once per distinct value).</summary>
    public KeyspaceEvents EnabledEvents
    {
        get
        {
            _eventsParam ??= server.Config.Find("notify-keyspace-events");
            var text = _eventsParam?.Value ?? "";
            if (!ReferenceEquals(text, _eventsText))
            {
                _eventsText = text;
                _events = ParseEvents(text);
            }
            return _events;
        }
    }

    /// <summary>keyspaceEventsStringToFlags (notify.c 7.0.15): 'A' is g$lshzxetd; unknown letters are ignored here (CONFIG validates).</summary>
    public static KeyspaceEvents ParseEvents(string text)
    {
        var f = KeyspaceEvents.None;
        foreach (char c in text)
        {
            f |= c switch
            {
                'A' => KeyspaceEvents.Generic | KeyspaceEvents.String | KeyspaceEvents.List | KeyspaceEvents.Set | KeyspaceEvents.Hash
                       | KeyspaceEvents.ZSet | KeyspaceEvents.Expired | KeyspaceEvents.Evicted | KeyspaceEvents.Stream | KeyspaceEvents.Module,
                'g' => KeyspaceEvents.Generic,
                '$' => KeyspaceEvents.String,
                'l' => KeyspaceEvents.List,
                's' => KeyspaceEvents.Set,
                'h' => KeyspaceEvents.Hash,
                'z' => KeyspaceEvents.ZSet,
                'x' => KeyspaceEvents.Expired,
                'e' => KeyspaceEvents.Evicted,
                'K' => KeyspaceEvents.Keyspace,
                'E' => KeyspaceEvents.Keyevent,
                't' => KeyspaceEvents.Stream,
                'm' => KeyspaceEvents.KeyMiss,
                'd' => KeyspaceEvents.Module,
                'n' => KeyspaceEvents.New,
                _ => KeyspaceEvents.None,
            };
        }
        return f;
    }

    /// <summary>
    /// notifyKeyspaceEvent (notify.c 7.0.15): when <paramref name="type"/> is enabled, publishes
    /// <paramref name="evt"/> on <c>__keyspace@&lt;db&gt;__:&lt;key&gt;</c> (flag K) and then <paramref name="key"/> on
    /// <c>__keyevent@&lt;db&gt;__:&lt;event&gt;</c> (flag E), through the ordinary PUBLISH path (channels, then
    /// patterns).
    /// </summary>
    public void NotifyKeyspaceEvent(KeyspaceEvents type, string evt, ReadOnlySpan<byte> key, int db)
    {
        var flags = EnabledEvents;
        if ((flags & type) == 0) return;
        if ((flags & (KeyspaceEvents.Keyspace | KeyspaceEvents.Keyevent)) == 0) return;
        var evtBytes = Encoding.ASCII.GetBytes(evt);
        if ((flags & KeyspaceEvents.Keyspace) != 0)
        {
            var prefix = Encoding.ASCII.GetBytes($"__keyspace@{db}__:");
            var channel = new byte[prefix.Length + key.Length];
            prefix.CopyTo(channel, 0);
            key.CopyTo(channel.AsSpan(prefix.Length));
            Publish(channel, evtBytes);
        }
        if ((flags & KeyspaceEvents.Keyevent) != 0)
            Publish(Encoding.ASCII.GetBytes($"__keyevent@{db}__:{evt}"), key);
    }

    /// <summary>Delivers a message; returns the number of receivers (PUBLISH reply).</summary>
    public int Publish(ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message)
    {
        int n = 0;
        var name = Name(channel);
        if (_channels.TryGetValue(name, out var subs))
        {
            foreach (var c in subs)
            {
                c.Out.PushHeader(3);
                c.Out.Bulk("message"u8);
                c.Out.Bulk(channel);
                c.Out.Bulk(message);
                c.ScheduleFlush();
                n++;
            }
        }
        foreach (var (pat, list) in _patterns)
        {
            if (!Glob.Match(Bytes(pat), channel, nocase: false)) continue;
            foreach (var c in list)
            {
                c.Out.PushHeader(4);
                c.Out.Bulk("pmessage"u8);
                c.Out.Bulk(Bytes(pat));
                c.Out.Bulk(channel);
                c.Out.Bulk(message);
                c.ScheduleFlush();
                n++;
            }
        }
        server.Stats.PubSubMessages += n;
        return n;
    }
}
