// A small JSON reader for the GPU tool (config.json, safetensors headers, golden.json); not used by the engine,
// whose JSON is parsed in TypeScript.
#pragma once
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace glossa {
namespace tool {

struct Json {
  enum Type { Null, Bool, Number, String, Array, Object } type = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;

  bool has(const std::string& k) const { return type == Object && obj.count(k) && obj.at(k).type != Null; }
  const Json& operator[](const std::string& k) const {
    static const Json null;
    if (type != Object) return null;
    auto it = obj.find(k);
    return it == obj.end() ? null : it->second;
  }
  const Json& operator[](std::size_t i) const { return arr.at(i); }
  int asInt(int fallback = 0) const { return type == Number ? static_cast<int>(num) : fallback; }
  double asNum(double fallback = 0) const { return type == Number ? num : fallback; }

  static Json parse(const std::string& text) {
    std::size_t i = 0;
    Json v = value(text, i);
    ws(text, i);
    if (i != text.size()) throw std::runtime_error("JSON: trailing characters at " + std::to_string(i));
    return v;
  }

 private:
  static void ws(const std::string& s, std::size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  static std::string string(const std::string& s, std::size_t& i) {
    std::string out;
    ++i;  // opening quote
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c == '\\') {
        if (i >= s.size()) break;
        char e = s[i++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': {
            unsigned cp = static_cast<unsigned>(std::strtoul(s.substr(i, 4).c_str(), nullptr, 16));
            i += 4;
            if (cp < 0x80) out += static_cast<char>(cp);
            else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 63)); }
            else { out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 63)); out += static_cast<char>(0x80 | (cp & 63)); }
            break;
          }
          default: out += e;
        }
      } else {
        out += c;
      }
    }
    if (i >= s.size()) throw std::runtime_error("JSON: unterminated string");
    ++i;
    return out;
  }
  static Json value(const std::string& s, std::size_t& i) {
    ws(s, i);
    if (i >= s.size()) throw std::runtime_error("JSON: unexpected end");
    Json v;
    const char c = s[i];
    if (c == '{') {
      v.type = Object;
      ++i;
      ws(s, i);
      if (s[i] == '}') { ++i; return v; }
      for (;;) {
        ws(s, i);
        std::string k = string(s, i);
        ws(s, i);
        if (s[i] != ':') throw std::runtime_error("JSON: expected ':' at " + std::to_string(i));
        ++i;
        v.obj[k] = value(s, i);
        ws(s, i);
        if (s[i] == ',') { ++i; continue; }
        if (s[i] == '}') { ++i; return v; }
        throw std::runtime_error("JSON: expected ',' or '}' at " + std::to_string(i));
      }
    }
    if (c == '[') {
      v.type = Array;
      ++i;
      ws(s, i);
      if (s[i] == ']') { ++i; return v; }
      for (;;) {
        v.arr.push_back(value(s, i));
        ws(s, i);
        if (s[i] == ',') { ++i; continue; }
        if (s[i] == ']') { ++i; return v; }
        throw std::runtime_error("JSON: expected ',' or ']' at " + std::to_string(i));
      }
    }
    if (c == '"') { v.type = String; v.str = string(s, i); return v; }
    if (s.compare(i, 4, "true") == 0) { v.type = Bool; v.b = true; i += 4; return v; }
    if (s.compare(i, 5, "false") == 0) { v.type = Bool; i += 5; return v; }
    if (s.compare(i, 4, "null") == 0) { i += 4; return v; }
    char* end = nullptr;
    v.num = std::strtod(s.c_str() + i, &end);
    if (end == s.c_str() + i) throw std::runtime_error("JSON: unexpected character at " + std::to_string(i));
    v.type = Number;
    i = static_cast<std::size_t>(end - s.c_str());
    return v;
  }
};

}  // namespace tool
}  // namespace glossa
