using System.Text;

namespace Kv.Server;

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
